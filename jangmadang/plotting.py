"""Plots of a run's monthly series with the scenario's events marked on the time axis."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: runs happen on machines without a screen

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from jangmadang.scenario import Event  # noqa: E402

DEFAULT_INDICATORS = (
    "food_insecure_share",
    "food_price_usd_per_kg",
    "market_income_share",
    "income_per_trader_usd",
    "gini_income",
    "cash_median_usd",
    "arrivals_south_korea",
    "defectors_in_south_korea",
    "remittance_flows",
    "tie_network",
    "private_loyalty",
    "compliance",
)


def _published_arrivals() -> dict[int, int]:
    from jangmadang.modules.defection import load_arrivals

    return load_arrivals()


# Panels stacking several series, each (indicator, dimension, group): where each remitted
# dollar went, the all-ssam ties by type of cadre, and what recipients did with the leader's gifts.
STACKED = {
    "remittance_flows": {
        ("remittance_broker_fees_usd", "all", "all"): "kept by brokers",
        ("remittances_seized_usd", "all", "all"): "seized by the state",
        ("remittances_received_usd", "all", "all"): "received by families",
    },
    "tie_network": {
        ("ties", "type", "manager"): "donju - factory manager",
        ("ties", "type", "party_secretary"): "donju - party secretary",
        ("ties", "type", "official"): "donju - local official",
    },
    "gift_outcomes": {
        ("gift_items_to_date", "choice", "used"): "used",
        ("gift_items_to_date", "choice", "stored"): "stored",
        ("gift_items_to_date", "choice", "given"): "given to family",
        ("gift_items_to_date", "choice", "sold"): "sold",
    },
}

# Indicators with a published yearly series: the panel compares yearly totals at 1:1 scale.
PUBLISHED = {
    "arrivals_south_korea": ("published (Ministry of Unification)", _published_arrivals),
}


def plot_run(
    results: pd.DataFrame,
    events: list[Event],
    path: str | Path,
    indicators: tuple[str, ...] | list[str] = DEFAULT_INDICATORS,
    title: str = "",
    scale: float | None = None,
) -> Path:
    """One panel per indicator: the national series, or every group if there is none.

    ``scale`` is the run's share of the full population; with it, an indicator that has a
    published series is drawn as yearly totals at 1:1 scale beside the published figures.
    """
    unknown = sorted(set(indicators) - set(results["indicator"].unique()) - set(STACKED))
    if unknown:
        raise KeyError(", ".join(unknown))
    fig, axes = _panel_grid(len(indicators))
    for ax, indicator in zip(axes.flat, indicators, strict=False):
        data = results[results["indicator"] == indicator]
        national = data[data["dimension"] == "all"]
        if indicator in STACKED:
            _stacked(ax, results, STACKED[indicator])
        elif indicator in PUBLISHED and scale and not national.empty:
            _against_published(ax, national, *PUBLISHED[indicator], scale)
        elif not national.empty:
            ax.plot(national["date"], national["value"], color="tab:blue", lw=1.4)
        else:
            for (_dimension, group), series in data.groupby(["dimension", "group"]):
                ax.plot(series["date"], series["value"], lw=1, label=f"{group}")
            ax.legend(fontsize=6, ncol=2)
        _finish_panel(ax, indicator, events)
    return _save(fig, axes, len(indicators), title, path)


def plot_ensemble(
    summary: pd.DataFrame,
    events: list[Event],
    path: str | Path,
    indicators: tuple[str, ...] | list[str],
    title: str = "",
) -> Path:
    """One panel per national indicator of an ensemble: the median and the 5-95% band."""
    national = summary[summary["dimension"] == "all"]
    unknown = sorted(set(indicators) - set(national["indicator"].unique()))
    if unknown:
        raise KeyError(", ".join(unknown))
    fig, axes = _panel_grid(len(indicators))
    for ax, indicator in zip(axes.flat, indicators, strict=False):
        data = national[national["indicator"] == indicator].sort_values("date")
        ax.fill_between(data["date"], data["q05"], data["q95"], alpha=0.3, label="5-95%")
        ax.plot(data["date"], data["median"], lw=1.4, label=f"median of {int(data['runs'].max())}")
        ax.legend(fontsize=6, loc="upper left")
        _finish_panel(ax, indicator, events)
    return _save(fig, axes, len(indicators), title, path)


def _panel_grid(n: int):
    """A figure with n panels in two columns (one if n is 1), sharing the time axis."""
    columns = 2 if n > 1 else 1
    rows = math.ceil(n / columns)
    return plt.subplots(
        rows, columns, figsize=(6.5 * columns, 2.8 * rows), squeeze=False, sharex=True
    )


def _finish_panel(ax, indicator: str, events: list[Event]) -> None:
    _mark_events(ax, events)
    ax.set_title(indicator.replace("_", " "), fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _save(fig, axes, n: int, title: str, path: str | Path) -> Path:
    """Hide unused panels, label the years, write the PNG (creating its folder)."""
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.xaxis.set_major_locator(mdates.YearLocator(2))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _stacked(ax, results: pd.DataFrame, parts: dict[tuple[str, str, str], str]) -> None:
    key = list(zip(results["indicator"], results["dimension"], results["group"], strict=True))
    rows = results[pd.Series(key, index=results.index).isin(set(parts))]
    wide = rows.pivot_table(
        index="date", columns=["indicator", "dimension", "group"], values="value"
    )
    ax.stackplot(wide.index, [wide[part] for part in parts], labels=list(parts.values()), alpha=0.8)
    ax.legend(fontsize=6, loc="upper left")


def _against_published(ax, national: pd.DataFrame, label: str, load, scale: float) -> None:
    """Simulated yearly totals (complete years only), scaled to 1:1, beside published ones."""
    by_year = national.groupby(national["date"].dt.year)["value"]
    totals = by_year.sum()[by_year.count() == 12] / scale
    published = {y: v for y, v in load().items() if totals.index.min() <= y <= totals.index.max()}
    mid_year = [pd.Timestamp(year=int(y), month=7, day=1) for y in totals.index]
    ax.plot(
        mid_year,
        totals.values,
        "o-",
        color="tab:blue",
        lw=1.4,
        ms=3,
        label="simulated, per year at 1:1",
    )
    ax.plot(
        [pd.Timestamp(year=y, month=7, day=1) for y in published],
        list(published.values()),
        "s",
        color="black",
        ms=3.5,
        label=label,
    )
    ax.legend(fontsize=6)


def _mark_events(ax, events: list[Event]) -> None:
    """A dashed line at each event's start; a shaded band while a long event lasts."""
    for event in events:
        start = pd.Timestamp(event.start)
        ax.axvline(start, color="grey", ls="--", lw=0.7, alpha=0.7)
        if event.end is not None and (event.end - event.start).days > 62:
            ax.axvspan(start, pd.Timestamp(event.end), color="tab:red", alpha=0.06)
        ax.annotate(
            event.label or event.name,
            xy=(start, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=5,
            va="top",
            ha="right",
            color="dimgrey",
        )
