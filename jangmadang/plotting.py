"""Plots of a run's monthly series, or of bands over many runs, with the scenario's events
marked on the time axis: a dashed line on every panel, numbered on the top row and named once
in the figure's key."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: runs happen on machines without a screen

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from jangmadang.scenario import Event  # noqa: E402
from jangmadang.timeline import format_month  # noqa: E402

FORMATS = (".png", ".pdf", ".svg")  # what matplotlib writes that a reader can open

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


# Units by the suffix of an indicator's name, most specific first.
UNITS = {
    "_usd_per_kg": "US dollars per kg",
    "_usd": "US dollars",
    "_share": "share, 0 to 1",
    "gini_income": "Gini coefficient, 0 (equal) to 1",
}


def figure_name(indicators) -> str:
    """A file name for a figure of chosen indicators (``plot-<names>.png``), distinct from the
    default figure ``plot.png``; long lists are shortened with a hash so names never clash."""
    name = "-".join(indicators)
    if len(name) > 80:
        name = f"{name[:60]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return f"plot-{name}.png"


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
        elif indicator in PUBLISHED and scale and len(totals := _yearly(national, scale)):
            ax.plot(
                _mid_year(totals.index),
                totals.values,
                "o-",
                color="tab:blue",
                lw=1.4,
                ms=3,
                label="simulated, per year at 1:1",
            )
            _published(ax, *PUBLISHED[indicator], totals.index)
            ax.legend(fontsize=6)
        elif not national.empty:
            ax.plot(national["date"], national["value"], color="tab:blue", lw=1.4)
        else:
            for (_dimension, group), series in data.groupby(["dimension", "group"]):
                ax.plot(series["date"], series["value"], lw=1, label=f"{group}")
            ax.legend(fontsize=6, ncol=2)
    return _save(fig, axes, indicators, events, results["date"], title, path, False)


def plot_ensemble(
    summary: pd.DataFrame,
    events: list[Event],
    path: str | Path,
    indicators: tuple[str, ...] | list[str],
    title: str = "",
    yearly: pd.DataFrame | None = None,
    scale: float | None = None,
) -> Path:
    """One panel per national indicator of an ensemble: the median and the 5-95% band over
    members. With ``yearly`` (the same statistics of each member's yearly totals) and
    ``scale``, an indicator with a published series is drawn per year at 1:1, as for a run."""
    runs = int(summary["runs"].max())
    return plot_bands(
        summary,
        events,
        path,
        indicators,
        title,
        columns=("median", "q05", "q95"),
        labels=(f"median of {runs} runs", f"5-95% of {runs} runs"),
        yearly=yearly,
        scale=scale,
    )


def plot_differences(
    differences: pd.DataFrame,
    events: list[Event],
    path: str | Path,
    indicators: tuple[str, ...] | list[str],
    title: str,
    pairs: int | None = None,
) -> Path:
    """Differences over time: one line per panel for two runs (``pairs`` None); for paired
    ensembles, the mean of ``pairs`` paired differences and its 95% interval."""
    if pairs is None:
        return plot_run(differences, events, path, indicators, title=title)
    return plot_bands(
        differences,
        events,
        path,
        indicators,
        title,
        columns=("mean", "low", "high"),
        labels=(f"mean of {pairs} paired differences", "95% t-interval of the mean"),
    )


def plot_bands(
    frame: pd.DataFrame,
    events: list[Event],
    path: str | Path,
    indicators: tuple[str, ...] | list[str],
    title: str = "",
    *,
    columns: tuple[str, str, str],
    labels: tuple[str, str],
    yearly: pd.DataFrame | None = None,
    scale: float | None = None,
) -> Path:
    """One panel per national indicator: a centre line and a band (``columns``: centre, low,
    high of ``frame``), named in the figure's key by ``labels`` (centre, band)."""
    national = frame[frame["dimension"] == "all"] if "dimension" in frame else frame
    unknown = sorted(set(indicators) - set(national["indicator"].unique()))
    if unknown:
        raise KeyError(f"no national indicator {', '.join(unknown)}")
    centre, low, high = columns
    fig, axes = _panel_grid(len(indicators))
    for ax, indicator in zip(axes.flat, indicators, strict=False):
        data = national[national["indicator"] == indicator].sort_values("date")
        suffix = ""
        totals = yearly[yearly["indicator"] == indicator] if yearly is not None else data[:0]
        if indicator in PUBLISHED and scale and len(totals):
            data = totals.sort_values("date").assign(**{c: totals[c] / scale for c in columns})
            _published(ax, *PUBLISHED[indicator], data["date"].dt.year)
            suffix = ", per year at 1:1"
        ax.fill_between(
            data["date"],
            data[low],
            data[high],
            color="tab:blue",
            alpha=0.25,
            lw=0,
            label=labels[1] + suffix,
        )
        ax.plot(
            data["date"],
            data[centre],
            "o-" if suffix else "-",
            color="tab:blue",
            lw=1.4,
            ms=3,
            label=labels[0] + suffix,
        )
    return _save(fig, axes, indicators, events, national["date"], title, path, True)


def _panel_grid(n: int):
    """A figure with n panels in two columns (one if n is 1), sharing the time axis."""
    columns = 2 if n > 1 else 1
    rows = math.ceil(n / columns)
    return plt.subplots(
        rows,
        columns,
        figsize=(6.5 * columns, 2.8 * rows + 0.8),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )


def _save(fig, axes, indicators, events, dates, title, path, series_in_key: bool) -> Path:
    """Title the panels, mark the events, hide unused panels, label the years, add the key
    (the numbered events, and the labelled series if ``series_in_key``: panels that all draw
    the same statistics name them once) and write the figure."""
    first, last = pd.Timestamp(dates.min()), pd.Timestamp(dates.max())
    shown = sorted(
        (e for e in events if e.takes_effect(first.date(), last.date())), key=lambda e: e.start
    )
    top = set(axes[0])
    for ax, indicator in zip(axes.flat, indicators, strict=False):
        ax.set_title(words(indicator), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        _mark_events(ax, shown, first, last, numbered=ax in top)
    for ax in list(axes.flat)[len(indicators) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.xaxis.set_major_locator(mdates.YearLocator(1 if (last - first).days < 6 * 366 else 2))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    handles = {}
    for ax in axes.flat if series_in_key else []:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    for number, event in enumerate(shown, start=1):
        marker = Line2D(
            [], [], ls="none", marker=f"${number}$", color="black", ms=5 + 4 * (number > 9)
        )
        since = "" if pd.Timestamp(event.start) >= first else "since "
        handles[f"{since}{format_month(event.start)} {event.label or event.name}"] = marker
    if handles:
        fig.legend(
            handles.values(),
            handles.keys(),
            loc="outside lower center",
            ncol=min(3, len(handles)),
            fontsize=7,
            frameon=False,
        )
    if title:
        fig.suptitle(title, fontsize=10)
    return write_figure(fig, path)


def write_figure(fig, path: str | Path) -> Path:
    """Write a figure (its folder created) at the resolution of every figure here, and free it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def words(indicator: str) -> str:
    """An indicator's name as a title: ``food_insecure_share`` is "food insecure share"."""
    return indicator.replace("_", " ")


def unit(indicator: str) -> str:
    """The unit an indicator's name gives (its suffix), or "" where the name gives none."""
    for suffix, name in UNITS.items():
        if indicator.endswith(suffix):
            return name
    return ""


def _stacked(ax, results: pd.DataFrame, parts: dict[tuple[str, str, str], str]) -> None:
    key = list(zip(results["indicator"], results["dimension"], results["group"], strict=True))
    rows = results[pd.Series(key, index=results.index).isin(set(parts))]
    wide = rows.pivot_table(
        index="date", columns=["indicator", "dimension", "group"], values="value"
    )
    ax.stackplot(wide.index, [wide[part] for part in parts], labels=list(parts.values()), alpha=0.8)
    ax.legend(fontsize=6, loc="upper left")


def _yearly(national: pd.DataFrame, scale: float) -> pd.Series:
    """Totals of the complete years of a series, at 1:1 (divided by the run's scale)."""
    by_year = national.groupby(national["date"].dt.year)["value"]
    return by_year.sum()[by_year.count() == 12] / scale


def _mid_year(years) -> list[pd.Timestamp]:
    """Yearly figures are drawn at the middle of their year."""
    return [pd.Timestamp(year=int(y), month=7, day=1) for y in years]


def _published(ax, label: str, load, years) -> None:
    """The published yearly figures for the years drawn."""
    published = {y: v for y, v in load().items() if min(years) <= y <= max(years)}
    ax.plot(_mid_year(published), list(published.values()), "s", color="black", ms=3.5, label=label)


def _mark_events(ax, events: list[Event], first, last, numbered: bool) -> None:
    """A dashed line at each event's start and a shaded band while a long event lasts (from the
    first month drawn, for an event in force before it); on the top row, the event's number,
    moved down a step when it would touch its neighbour's."""
    gap = (mdates.date2num(last) - mdates.date2num(first)) / 40  # about a number's width
    level_ends: list[float] = []
    for number, event in enumerate(events, start=1):
        start = max(pd.Timestamp(event.start), first)
        if start > first:
            ax.axvline(start, color="grey", ls="--", lw=0.7, alpha=0.7)
        if event.end is not None and (event.end - event.start).days > 62:
            ax.axvspan(start, min(pd.Timestamp(event.end), last), color="tab:red", alpha=0.06)
        if not numbered:
            continue
        x = mdates.date2num(start)
        level = next((i for i, end in enumerate(level_ends) if x - end > gap), len(level_ends))
        level_ends[level : level + 1] = [x]
        ax.annotate(
            str(number),
            xy=(start, 1 - 0.11 * level),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            ha="center",
            va="top",
            color="black",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )
