"""Calendar months: the model's time step is one month, written ``YYYY-MM`` everywhere."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: object) -> date:
    """Accept ``"YYYY-MM"`` (or a date) and return the first day of that month."""
    if isinstance(value, date) and value.day == 1:  # a first-of-month date from Python
        return date(value.year, value.month, 1)
    if isinstance(value, str):
        match = _MONTH.match(value.strip())
        if match and 1 <= int(match.group(2)) <= 12:
            return date(int(match.group(1)), int(match.group(2)), 1)
    raise ValueError(f"expected a month written YYYY-MM, got {value!r}")


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
