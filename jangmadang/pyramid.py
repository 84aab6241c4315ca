"""The population pyramid of a run: persons by sex and five-year age group in its first and
last year (``jangmadang plot RUN_ID population_pyramid``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jangmadang.plotting import write_figure  # also sets Matplotlib's file-only backend

import matplotlib.pyplot as plt  # noqa: E402  (isort: skip)

PYRAMID = "population_pyramid"  # the figure's name where indicators are named


def pyramid_table(results: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """Mean persons (at 1:1, divided by ``scale``) by age group (rows, youngest first) and
    sex, in the first and the last year of the run: columns (year, sex)."""
    rows = results[(results.indicator == "population") & (results.dimension == "sex_age")]
    if rows.empty:
        raise KeyError(PYRAMID)
    rows = rows.assign(
        year=pd.to_datetime(rows["date"]).dt.year,
        sex=rows["group"].str.split("_").str[0],
        ages=rows["group"].str.split("_", n=1).str[1],
    )
    rows = rows[rows.year.isin([rows.year.min(), rows.year.max()])]
    table = rows.pivot_table(index="ages", columns=["year", "sex"], values="value", aggfunc="mean")
    order = sorted(table.index, key=lambda ages: int(ages.split("_")[0]))
    return table.loc[order] / scale


def plot_pyramid(
    results: pd.DataFrame, path: str | Path, title: str = "", scale: float = 1.0
) -> Path:
    """Men to the left, women to the right; the last year filled, the first year outlined."""
    table = pyramid_table(results, scale)
    years = sorted({year for year, _ in table.columns})
    first, last = years[0], years[-1]
    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    y = np.arange(len(table))
    for sex, side, colour in (("male", -1, "tab:blue"), ("female", 1, "tab:red")):
        ax.barh(y, side * table[(last, sex)], color=colour, alpha=0.6, label=f"{sex}, {last}")
        ax.barh(
            y,
            side * table[(first, sex)],
            fill=False,
            edgecolor="black",
            lw=0.8,
            label=str(first) if sex == "male" else None,
        )
    labels = [ages.replace("_plus", "+").replace("_", "-") for ages in table.index]
    ax.set_yticks(y, labels, fontsize=7)
    limit = np.nanmax(np.abs(table.to_numpy())) * 1.05
    ax.set_xlim(-limit, limit)
    ax.xaxis.set_major_formatter(
        lambda x, _: f"{abs(x) / 1e6:.1f}M" if limit > 1e6 else f"{abs(x):,.0f}"
    )
    ax.set_xlabel("persons (men left, women right; outline: first year)")
    ax.set_ylabel("age")
    ax.axvline(0, color="black", lw=0.5)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    ax.set_title(title or f"Population pyramid, {first} and {last}", fontsize=10)
    return write_figure(fig, path)
