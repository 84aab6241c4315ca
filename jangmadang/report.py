"""One HTML file that tells a reader who does not code what a stored run or ensemble shows.

What was run and how it differs from the baseline scenario (each difference with its evidence),
the key national indicators, the series with the scenario's events, province maps and, against
another run or ensemble, the differences over time. Figures are inline PNG and the styles are
inline, with no script and no outside address: the file opens anywhere, offline, and can be
passed on as it is.

>>> from jangmadang.report import load_stored, write_report
>>> store = ResultsStore("results")
>>> path = write_report(store, load_stored(store, run_id), other=load_stored(store, other_id))
"""

from __future__ import annotations

import base64
import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

import pandas as pd

import jangmadang
from jangmadang import evidence
from jangmadang.experiments.checks import SIZE_PARAMETERS, BadInput
from jangmadang.results import COLUMNS, format_value, national_summary
from jangmadang.scenario import (
    Event,
    Parameters,
    Scenario,
    events_of,
    load_scenario,
    with_overrides,
)
from jangmadang.store import ResultsStore, write_atomically
from jangmadang.timeline import format_month

# Province maps in a report: what households live on, eat and think, where they live.
MAP_INDICATORS = ("food_insecure_share", "cash_median_usd", "income_market_usd", "private_loyalty")
STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left;
         vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; }
figcaption, .note { color: #555; font-size: 0.92em; }
"""


@dataclass
class Stored:
    """A stored run or ensemble as a report (and a map) sees it."""

    id: str
    scenario: Scenario  # an ensemble's first member's: the seed is that member's
    results: pd.DataFrame  # date, indicator, dimension, group, value (an ensemble's median)
    scenario_hash: str  # an ensemble's: of its scenario with the base seed
    seed: int  # an ensemble's base seed, from which its members' derive
    member_seeds: list[int]  # none for a run
    version: str  # of the package that computed it
    folder: Path  # where the run's (the ensemble's) files are

    @property
    def kind(self) -> str:
        return "ensemble" if self.member_seeds else "run"

    @property
    def title(self) -> str:
        """The scenario and the id, as figures name what they show."""
        if self.kind == "run":
            return f"{self.scenario.name} ({self.id})"
        return f"{self.scenario.name}, median of {len(self.member_seeds)} runs ({self.id})"


def load_stored(store: ResultsStore, stored_id: str) -> Stored:
    """A completed run, or an ensemble's stored members as medians over members per date and
    group. An id that is neither raises :class:`UnknownRun`; a run without results,
    :class:`~jangmadang.store.NoResults`."""
    from jangmadang.experiments.ensemble import ensemble_summary

    members = store.ensemble_members(stored_id)
    if members.empty:
        info = store.run_info(stored_id)
        return Stored(
            stored_id,
            store.scenario(stored_id),
            store.load(stored_id)[COLUMNS],
            info["scenario_hash"],
            int(info["seed"]),
            [],
            info["package_version"],
            store.run_dir(stored_id),
        )
    folder = store.out / "ensembles" / stored_id
    ensemble = json.loads((folder / "ensemble.json").read_text())
    first = members.run_id.iloc[0]
    summary = ensemble_summary(store, stored_id).rename(columns={"median": "value"})
    return Stored(
        stored_id,
        store.scenario(first),
        summary[COLUMNS],
        ensemble["scenario_hash"],
        int(ensemble["base_seed"]),
        [int(seed) for seed in members.seed],
        store.run_info(first)["package_version"],
        folder,
    )


def parameter_differences(scenario: Scenario) -> list[tuple[str, object, object]]:
    """(key, baseline value, this value) of every parameter that differs from the baseline
    scenario's, but the size of the run (shown apart)."""
    baseline = load_scenario("baseline")
    rows = []
    for section in Parameters.model_fields:
        theirs = getattr(baseline, section).model_dump(mode="json")
        for field, value in getattr(scenario, section).model_dump(mode="json").items():
            key = f"{section}.{field}"
            if value != theirs[field] and key not in SIZE_PARAMETERS:
                rows.append((key, theirs[field], value))
    return rows


def event_differences(scenario: Scenario) -> list[tuple[Event, str]]:
    """The events in force in the scenario's months that the baseline's, over the same months,
    does not have (``added``), has otherwise (``changed``) or has only itself (``removed``)."""
    window = {"start": scenario.start, "end": scenario.end}
    theirs = {e.name: e for e in with_overrides(load_scenario("baseline"), window).effective_events}
    ours = {e.name: e for e in scenario.effective_events}
    changes = [
        (event, "added" if event.name not in theirs else "changed")
        for event in ours.values()
        if theirs.get(event.name) != event
    ]
    changes += [(event, "removed") for name, event in theirs.items() if name not in ours]
    return sorted(changes, key=lambda change: change[0].start)


def differences_over_time(
    store: ResultsStore, subject: Stored, other: Stored, indicators: list[str]
) -> tuple[pd.DataFrame, int]:
    """``subject`` - ``other`` per date in national indicators, and the number of pairs: for
    two runs the difference (column ``value``, one pair); for two ensembles the mean over
    members paired by number and its 95% t-interval (``mean``, ``low``, ``high``). Mistakes
    are :class:`BadInput` on ``against``."""
    from jangmadang.experiments.compare import paired_over_time
    from jangmadang.experiments.ensemble import member_results

    if subject.kind != other.kind:
        kinds = {"run": "a run", "ensemble": "an ensemble"}
        reason = f"is {kinds[other.kind]} and {subject.id} {kinds[subject.kind]}"
        raise BadInput("against", f"{reason}: compare two runs or two ensembles", other.id)
    if subject.kind == "run":
        national = [
            s.results[s.results.dimension == "all"].pivot_table(
                index="date", columns="indicator", values="value"
            )[indicators]
            for s in (subject, other)
        ]
        difference = (national[0] - national[1]).dropna(how="all")
        frame = difference.melt(ignore_index=False, var_name="indicator").reset_index()
        return frame.assign(dimension="all", group="all")[COLUMNS], 1
    ours, theirs = member_results(store, subject.id), member_results(store, other.id)
    members = sorted(set(ours) & set(theirs))
    if len(members) < 2:
        raise BadInput(
            "against", "shares fewer than two members with it: an interval needs two", other.id
        )
    frames = [paired_over_time(theirs, ours, members, i) for i in indicators]
    return pd.concat(frames, ignore_index=True).dropna(subset=["mean"]), len(members)


def write_report(
    store: ResultsStore, subject: Stored, path: Path | None = None, other: Stored | None = None
) -> Path:
    """Write the report on ``subject`` (compared with ``other`` if given) to ``path`` (default
    ``report-<id>.html`` in its folder); return the path."""
    path = path or subject.folder / f"report-{subject.id}.html"
    page = render(store, subject, other)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: tmp.write_text(page, "utf-8"))
    return path


def render(store: ResultsStore, subject: Stored, other: Stored | None = None) -> str:
    """The report as one HTML page."""
    from jangmadang.experiments.compare import DEFAULT_INDICATORS as COMPARED

    comparison = ""
    if other is not None:  # checked first: a mistake stops the report before any figure
        shared = set(subject.results.indicator) & set(other.results.indicator)
        indicators = [i for i in COMPARED if i in shared]
        differences, pairs = differences_over_time(store, subject, other, indicators)
        if differences.empty:
            raise BadInput("against", f"has no month in common with {subject.id}", other.id)
        comparison = _comparison(subject, other, differences, indicators, pairs)
    kind = f"ensemble of {len(subject.member_seeds)} runs" if subject.member_seeds else "run"
    sections = [
        f"<h1>{escape(subject.scenario.name)}: simulation report</h1>",
        f'<p class="note">{escape(kind.capitalize())} {escape(subject.id)}; report written '
        f"{datetime.now():%Y-%m-%d %H:%M} by jangmadang {escape(jangmadang.__version__)}.</p>",
        "<p>jangmadang simulates North Korea's informal political economy person by person: "
        "markets, food, state rations, bribes and punishments, defection and remittances, "
        "loyalty. This report shows what one scenario produced; every parameter and rule of "
        "the model is traced to a source in its evidence ledger.</p>",
        _what_was_run(subject),
        _indicator_table(subject),
        _series(store, subject),
        _maps(subject),
        comparison,
        _sources(),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(subject.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(s for s in sections if s)
        + "\n</body>\n</html>\n"
    )


def _what_was_run(subject: Stored) -> str:
    scenario = subject.scenario
    scale = scenario.population.effective_scale
    seeds = str(subject.seed)
    if subject.member_seeds:
        members = ", ".join(map(str, subject.member_seeds))
        seeds += f" (base of the ensemble; its {len(subject.member_seeds)} runs': {members})"
    facts = [
        ("Scenario", f"{scenario.name}: {scenario.description}"),
        ("Scenario hash", subject.scenario_hash),
        ("Random seed", seeds),
        (
            "Population",
            f"{scenario.population.size:,} simulated persons, 1 in {1 / scale:,.0f} of the "
            f"{scenario.population.size_at_full_scale:,} inhabitants",
        ),
        (
            "Months",
            f"{format_month(scenario.start)} to {format_month(scenario.end)}, after "
            f"{scenario.burn_in_months} months that settle the initial state (not shown)",
        ),
        ("Model version", f"jangmadang {subject.version}"),
    ]
    entries = evidence.load()
    parameters = parameter_differences(scenario)
    events = event_differences(scenario)
    return "\n".join(
        [
            "<h2>What was run</h2>",
            _table(facts),
            "<h3>Parameters that differ from the baseline scenario</h3>",
            _table(
                [(k, _value(b), _value(v), _evidence(entries.get(k))) for k, b, v in parameters],
                ("parameter", "baseline", "this scenario", "evidence for the parameter"),
            )
            if parameters
            else "<p>None: every parameter has its baseline value.</p>",
            "<h3>Events that differ from the baseline scenario</h3>",
            _table(
                [
                    (
                        event.label or event.name,
                        format_month(event.start),
                        format_month(event.end) if event.end else "",
                        change,
                        _evidence(entries.get(f"event.{event.name}")),
                    )
                    for event, change in events
                ],
                ("event", "from", "until", "in this scenario", "evidence for the event"),
            )
            if events
            else "<p>None: the scenario has the baseline's events over its months.</p>",
        ]
    )


def _indicator_table(subject: Stored) -> str:
    from jangmadang.plotting import unit, words

    summary = national_summary(subject.results)
    which = f" of the median over {len(subject.member_seeds)} runs" if subject.member_seeds else ""
    return "\n".join(
        [
            "<h2>Key national indicators</h2>",
            f"<p>Yearly means{which} in the first and the last year, and the lowest and the "
            "highest month. Counts are of simulated persons (see the population above).</p>",
            _table(
                [
                    (words(indicator), unit(indicator), *map(format_value, values))
                    for indicator, *values in summary.itertuples(index=False)
                ],
                ("indicator", "unit", *summary.columns[1:]),
                numeric=4,
            ),
        ]
    )


def _series(store: ResultsStore, subject: Stored) -> str:
    from jangmadang.experiments.ensemble import plot_ensemble_figure
    from jangmadang.plotting import DEFAULT_INDICATORS, STACKED, plot_run

    scenario = subject.scenario
    if subject.kind == "run":
        recorded = {*subject.results.indicator, *STACKED}  # a run of an older version may lack some
        figure = _figure(
            lambda path: plot_run(
                subject.results,
                scenario.events,
                path,
                [i for i in DEFAULT_INDICATORS if i in recorded],
                title=subject.title,
                scale=scenario.population.effective_scale,
            ),
            "Main indicators month by month",
            "Each panel follows one national indicator month by month. Dashed lines mark the "
            "scenario's events, numbered on the top panels and named in the key below; shaded "
            "spans last as long as an event. Arrivals in South Korea are yearly totals scaled "
            "to the whole population, beside the published figures.",
        )
    else:
        figure = _figure(
            lambda path: plot_ensemble_figure(store, subject.id, path),
            "Main indicators month by month, median and band over runs",
            "Each panel follows one national indicator: the line is the median over the "
            f"{len(subject.member_seeds)} runs and the band holds the middle 90% of them, so "
            "its width shows how much chance alone moves the result. Dashed lines mark the "
            "scenario's events, named in the key below.",
        )
    return f"<h2>Indicators over time</h2>\n{figure}"


def _maps(subject: Stored) -> str:
    from jangmadang.maps import map_title, plot_map, province_values
    from jangmadang.plotting import words

    mapped = set(subject.results.loc[subject.results.dimension == "province", "indicator"])
    figures = []
    for indicator in (i for i in MAP_INDICATORS if i in mapped):
        values, month = province_values(subject.results, indicator)
        title, label = map_title(indicator, month, subject.title)
        which = (
            f", the median over {len(subject.member_seeds)} runs" if subject.member_seeds else ""
        )
        figures.append(
            _figure(
                lambda path, v=values, t=title, b=label: plot_map(v, path, t, b),
                f"Map of {words(indicator)} by province",
                f"{words(indicator).capitalize()} in each of the ten provinces in "
                f"{format_month(month)}{which}: the darker, the higher. The four provinces "
                "along the Chinese border are in the north; Pyongyang is the capital.",
            )
        )
    if not figures:
        return ""
    return "\n".join(
        [
            "<h2>Provinces</h2>",
            "<p>The last month of the run, province by province.</p>",
            *figures,
        ]
    )


def _comparison(
    subject: Stored, other: Stored, differences: pd.DataFrame, indicators: list[str], pairs: int
) -> str:
    from jangmadang.plotting import plot_differences

    events = events_of(subject.scenario, other.scenario)
    title = f"{subject.title} minus {other.title}"
    if subject.kind == "run":
        figure = _figure(
            lambda path: plot_differences(differences, events, path, indicators, title),
            "Differences between the two runs",
            f"Each panel shows this run minus {other.id}, month by month: above zero, the "
            "indicator is higher in this run. Dashed lines mark both scenarios' events.",
        )
    else:
        figure = _figure(
            lambda path: plot_differences(differences, events, path, indicators, title, pairs),
            "Differences between the two ensembles, with 95% intervals",
            f"Each panel shows this ensemble minus {other.id}, month by month: the line is "
            f"the mean difference over {pairs} pairs of runs (paired by member number: the same "
            "seeds when both ensembles share a base seed), the band its 95% confidence "
            "interval. Where the band leaves zero, the difference is unlikely to be chance.",
        )
    return "\n".join(
        [
            f"<h2>Compared with {escape(other.scenario.name)}</h2>",
            f"<p>{escape(subject.id)} against {escape(other.id)} "
            f"({escape(other.scenario.description)}).</p>",
            figure,
        ]
    )


def _sources() -> str:
    from jangmadang.maps import attribution

    return "\n".join(
        [
            "<h2>Sources</h2>",
            "<p>Every parameter, rule and event of the model has an entry in its evidence "
            "ledger: <code>jangmadang evidence KEY</code> shows the source and what it says. "
            "Province populations are those of the 2008 census.</p>",
            f"<p>{escape(attribution())}.</p>",
        ]
    )


def _figure(draw, alt: str, caption: str) -> str:
    """A figure drawn to a temporary PNG and inlined, with its caption."""
    with tempfile.TemporaryDirectory() as folder:
        png = draw(Path(folder) / "figure.png")
        data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _table(rows, columns: tuple[str, ...] = (), numeric: int = 0) -> str:
    """An HTML table of text cells (escaped); the last ``numeric`` columns are right-aligned."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        first = len(row) - numeric
        cells = (
            f'<td class="number">{escape(str(cell))}</td>'
            if i >= first
            else f"<td>{escape(str(cell))}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table>{f'<tr>{head}</tr>' if head else ''}{''.join(body)}</table>"


def _value(value) -> str:
    """A parameter's value: numbers as the indicator table writes them, the rest as TOML."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return format_value(value)


def _evidence(entry) -> str:
    if entry is None:
        return "no entry in the evidence ledger"
    return f"{entry.source_description or entry.source}: {entry.says}"
