"""Calendar months: the model's time step is one month, written ``YYYY-MM`` everywhere."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Months the model accepts: wide enough for any history or projection, and far enough from
# year 1 that burn-in months (up to ten years before the start) are still calendar dates.
FIRST_MONTH, LAST_MONTH = date(1900, 1, 1), date(2100, 12, 1)


def parse_month(value: object) -> date:
    """Accept ``"YYYY-MM"`` (or a first-of-month date) from 1900-01 to 2100-12 and return the
    first day of that month."""
    month = None
    if isinstance(value, date) and value.day == 1:  # a first-of-month date from Python
        month = date(value.year, value.month, 1)
    elif isinstance(value, str):
        match = _MONTH.match(value.strip())
        if match and 1 <= int(match.group(2)) <= 12:
            month = date(int(match.group(1)), int(match.group(2)), 1)
    if month is None and isinstance(value, date):
        raise ValueError(
            f"expected a month written YYYY-MM, got the day {value.isoformat()} "
            f"(write {format_month(value)})"
        )
    if month is None:
        raise ValueError(f"expected a month written YYYY-MM, got {value!r}")
    shown = repr(value) if isinstance(value, str) else format_month(month)
    if not FIRST_MONTH <= month <= LAST_MONTH:
        raise ValueError(
            f"expected a month from {format_month(FIRST_MONTH)} to {format_month(LAST_MONTH)}, "
            f"got {shown}"
        )
    return month


def format_month(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def month_index(month: date) -> int:
    """Months since year 0 (year x 12 + month - 1): month arithmetic on plain integers."""
    return month.year * 12 + month.month - 1


def add_months(month: date, n: int) -> date:
    index = month_index(month) + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> list[date]:
    """Every month from ``start`` to ``end`` inclusive."""
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    return [add_months(start, i) for i in range(count)]


Month = Annotated[
    date, BeforeValidator(parse_month), PlainSerializer(format_month, return_type=str)
]
