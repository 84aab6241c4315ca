"""Checks of an experiment's inputs, made before anything runs, is catalogued or is written.

A mistake raises :class:`BadInput` naming the input (the command line reports it against its
option, ``--window``) and the reason: an experiment either runs on inputs that can give a
meaningful answer or does not start.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from functools import cache

from jangmadang import evidence
from jangmadang.scenario import Scenario, with_overrides
from jangmadang.timeline import format_month, parse_month

# Parameters that set the size of a run, not a behaviour: runs choose it (``population``,
# ``scale``), and varying it would only vary the sampling noise (or run 26 million persons).
SIZE_PARAMETERS = ("population.full_size", "population.scale", "population.persons")
SCHEDULER_TIMEOUT = 3.0  # seconds to wait for a Dask scheduler to accept a connection


class BadInput(ValueError):
    """An input an experiment cannot give a meaningful result with: the option (an argument
    name), the value given if it helps to show it, and the reason."""

    def __init__(self, option: str, reason: str, value: object = None):
        self.option, self.reason, self.value = option, reason, value
        super().__init__(self.message(option))

    def message(self, name: str) -> str:
        """The message with the option as the caller knows it (``--window`` on the CLI)."""
        shown = f"{name} {self.value!r}" if self.value is not None else name
        return f"{shown}: {self.reason}"


def at_least(option: str, value: int, least: int, why: str = "") -> int:
    if value < least:
        raise BadInput(option, f"must be at least {least}{why}", value)
    return value


def interval_runs(runs: int) -> int:
    """Runs over which an interval is computed: one value has no spread."""
    return at_least("runs", runs, 2, " (an interval needs two members)")


def choice(option: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise BadInput(option, f"one of {', '.join(choices)}", value)
    return value


def cluster(workers: int | None, scheduler: str | None) -> None:
    """A local cluster needs at least one worker; a scheduler must answer at its address."""
    if workers is not None and scheduler is not None:
        raise BadInput("workers", "give workers (a local cluster) or a scheduler, not both")
    if workers is not None:
        at_least("workers", workers, 1)
    if scheduler is not None:
        reason = _scheduler_problem(scheduler)
        if reason:
            raise BadInput("scheduler", reason, scheduler)


def _scheduler_problem(address: str) -> str | None:
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls") else (None, None)
    except ValueError as exc:
        return f"not a scheduler address ({exc}); write tcp://host:port"
    if host is None:
        return f"unsupported protocol {scheme!r}; write tcp://host:port"
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT).close()
    except TimeoutError:
        return f"no Dask scheduler answers at {host}:{port} within {SCHEDULER_TIMEOUT:g} s"
    except OSError as exc:
        return f"no Dask scheduler answers at {host}:{port} ({exc.strerror or exc})"
    return None


def names(option: str, given: Sequence[str]) -> list[str]:
    """A list of names without blanks or repeats."""
    given = list(given)
    if not given:
        raise BadInput(option, "give at least one name")
    repeated = sorted({name for name in given if given.count(name) > 1})
    if repeated:
        raise BadInput(option, f"{', '.join(repeated)} given more than once")
    return given


def parameters(params: Sequence[str], option: str = "params") -> list[str]:
    """Parameters that can vary in a sensitivity analysis or calibration: known, numeric,
    with a plausible range in the evidence ledger, and not the size of the run."""
    params = names(option, params)
    known, entries = set(evidence.parameter_keys()), evidence.load()
    for key in params:
        if key not in known:
            raise BadInput(option, f"unknown parameter {key!r} (write section.name)")
        if key in SIZE_PARAMETERS:
            raise BadInput(
                option,
                f"{key} sets the size of the run, which does not vary in an experiment "
                "(choose it with --population or --scale)",
            )
        entry = entries.get(key)
        if entry is None or entry.range is None:
            raise BadInput(option, f"{key}: no plausible range in the evidence ledger")
        if not entry.range[1] > entry.range[0]:
            raise BadInput(option, f"{key}: range {list(entry.range)} in the ledger is empty")
    return params


@cache
def national_indicators() -> frozenset[str]:
    """Every indicator with a national series: the modules decide what is recorded, so a year
    of a tiny baseline run (a tenth of a second) lists them all, yearly ones included."""
    from jangmadang.scenario import load_scenario
    from jangmadang.sim import Sim

    probe = with_overrides(
        load_scenario("baseline"),
        {"population.persons": 2_000, "start": "2019-01", "end": "2019-12", "burn_in_months": 0},
    )
    results = Sim(probe).run().results
    return frozenset(results.loc[results.dimension == "all", "indicator"])


def indicators(given: Sequence[str], option: str = "indicators") -> list[str]:
    """National indicators, each known and named once."""
    given = names(option, given)
    unknown = [name for name in given if name not in national_indicators()]
    if unknown:
        raise BadInput(option, unknown_indicators(unknown))
    return given


def unknown_indicators(unknown: Sequence[str]) -> str:
    known = ", ".join(sorted(national_indicators()))
    return f"no national indicator {', '.join(map(repr, unknown))} (known: {known})"


def window(span: Sequence[str] | None, scenario: Scenario, option: str = "window"):
    """Months ``(first, last)``, in order and inside the run's window, as ``YYYY-MM``; None
    (the whole run) stays None."""
    if span is None:
        return None
    if len(span) != 2:
        raise BadInput(option, "give the first and the last month", list(span))
    try:
        first, last = (parse_month(month) for month in span)
    except ValueError as exc:
        raise BadInput(option, str(exc)) from None
    if last < first:
        raise BadInput(
            option, f"the last month {format_month(last)} is before the first {format_month(first)}"
        )
    if first < scenario.start or last > scenario.end:
        run = f"{format_month(scenario.start)}..{format_month(scenario.end)}"
        raise BadInput(
            option,
            f"{format_month(first)}..{format_month(last)} is not inside the run's months {run}",
        )
    return format_month(first), format_month(last)


def same_months(base: Scenario, other: Scenario, option: str) -> None:
    """Paired scenarios cover the same months, so their members pair month by month."""
    spans = [f"{format_month(s.start)}..{format_month(s.end)}" for s in (base, other)]
    if spans[0] != spans[1]:
        raise BadInput(
            option, f"runs {spans[1]}, the base {spans[0]}: give both the same start and end"
        )
