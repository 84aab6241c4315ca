"""One ledger for all money.

Every transfer in the model goes through :meth:`Ledger.pay`, which debits one account and
credits another. Accounts are either the households (one cash balance per household, a
float64 array) or named scalar accounts (``state``, ``abroad``, ``market`` ...). Accounts
opened as *external* are the declared sources and sinks: they may go negative, and money
crossing their boundary is reported as created or destroyed. Because every account, external
ones included, is debited exactly as much as another is credited, the sum over all accounts
never changes; :meth:`Ledger.check` asserts that each month.
"""

from __future__ import annotations

from collections import defaultdict
from enum import IntEnum

import numpy as np

from jangmadang.kernels import in_ranges
from jangmadang.ledger_kernels import add_at, add_into, row_totals

HOUSEHOLDS = "households"


class IncomeSource(IntEnum):
    """Columns of the household income matrix; a credit to households names its source."""

    STATE = 0  # wages from the state
    MARKET = 1  # trading, business, farm sales
    REMITTANCE = 2  # money from relatives in South Korea, after brokers' fees
    PATRONAGE = 3  # cadres' rent, per diems, tributes and gifts from donju


class MoneyNotConserved(AssertionError):
    pass


class Ledger:
    def __init__(self, cash: np.ndarray, income: np.ndarray):
        self.cash = cash  # per-household cash (USD), float64, owned by the households struct
        self.income = income  # per-household income this month by IncomeSource, float32
        self.balances: dict[str, float] = {}
        self.external: set[str] = set()
        self.flows: dict[tuple[str, str, str], float] = defaultdict(float)
        self._initial_total: float | None = None
        self._volume = 0.0

    def rebind(self, cash: np.ndarray, income: np.ndarray) -> None:
        """Follow the households' arrays after the population was rebuilt (same total)."""
        self.cash, self.income = cash, income

    def open(self, name: str, external: bool = False, balance: float = 0.0) -> None:
        """Open a scalar account; ``external`` makes it a declared source/sink of money."""
        if name in self.balances or name == HOUSEHOLDS:
            raise ValueError(f"account {name!r} already open")
        self.balances[name] = float(balance)
        if external:
            self.external.add(name)

    def start(self) -> None:
        """Fix the total once opening balances are in place; conservation is checked against it."""
        self._initial_total = self.total()

    def pay(
        self,
        flow: str,
        debit: str,
        credit: str,
        amount,
        *,
        debit_idx: np.ndarray | None = None,
        credit_idx: np.ndarray | None = None,
        source: IncomeSource | None = None,
    ) -> float:
        """Move ``amount`` from ``debit`` to ``credit`` and return the total moved.

        When a side is ``HOUSEHOLDS``, ``amount`` is per household: aligned with that side's
        index array, or with all households when the index is None. When both sides are
        households, ``amount`` is per pair ``(debit_idx[i], credit_idx[i])``. A credit to
        households with a ``source`` also counts as that source's income this month.
        """
        amount = np.asarray(amount, dtype=np.float64)
        total = float(amount.sum())
        if debit == HOUSEHOLDS:
            _apply(self.cash, debit_idx, amount, -1.0)
        if credit == HOUSEHOLDS:
            _apply(self.cash, credit_idx, amount)
            if source is not None:
                _apply(self.income[:, source], credit_idx, amount)
        return self.book(flow, debit, credit, total)

    def book(self, flow: str, debit: str, credit: str, total: float) -> float:
        """Book a transfer of ``total`` whose household side is already written: the scalar
        accounts, the month's flow and the volume, as :meth:`pay` books them. A compiled
        kernel that pays households in the same pass as it computes the amounts (adding to
        ``cash``, and to ``income`` for a credit with a source) books the transfer here; the
        monthly :meth:`check` catches a kernel whose household side differs from ``total``."""
        total = float(total)
        for account, sign in ((debit, -1.0), (credit, 1.0)):
            if account != HOUSEHOLDS:
                self._account(account)
                self.balances[account] += sign * total
        self.flows[(flow, debit, credit)] += total
        self._volume += abs(total)
        return total

    def _account(self, name: str) -> None:
        if name not in self.balances:
            raise KeyError(f"ledger account {name!r} was never opened")

    def total(self) -> float:
        return float(self.cash.sum()) + sum(self.balances.values())

    def check(self) -> None:
        """Raise MoneyNotConserved if money appeared or vanished outside a declared flow."""
        drift = self.total() - self._initial_total
        tolerance = 1e-9 * (self._volume + abs(self._initial_total)) + 1e-6
        if abs(drift) > tolerance:
            raise MoneyNotConserved(f"ledger total drifted by {drift:.6g} USD")
        lowest = float(self.cash.min()) if len(self.cash) else 0.0
        if lowest < -1e-6:
            raise MoneyNotConserved(f"a household's cash went negative ({lowest:.6g} USD)")
        for name, balance in self.balances.items():
            if name not in self.external and balance < -1e-6:
                raise MoneyNotConserved(f"internal account {name!r} went negative ({balance:.6g})")

    def close_month(self) -> dict[tuple[str, str, str], float]:
        """Return this month's flows (flow, debit, credit) -> USD and start a new month."""
        flows, self.flows = dict(self.flows), defaultdict(float)
        return flows

    def total_income(self) -> np.ndarray:
        """Each household's income this month over all sources (float64), summed column by
        column, in one compiled pass on several threads: far faster than
        ``income.sum(axis=1)`` on the (households, sources) array."""
        total = np.empty(len(self.income))
        in_ranges(row_totals, len(total), total, self.income)
        return total

    def is_external(self, account: str) -> bool:
        return account in self.external


def within_means(cash: np.ndarray, payers: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Scale payments so no household pays more than its cash in total: a household owing
    several payments (``payers`` may repeat) pays each the same fraction of what is due."""
    amounts = np.asarray(amounts, dtype=np.float64)
    if len(amounts) == 0:
        return amounts
    households, row = np.unique(payers, return_inverse=True)
    owed = np.bincount(row, weights=amounts, minlength=len(households))
    balance = cash[households]
    # a hair under the balance, so rounding in amounts * share rarely overdraws it
    share = np.minimum(1.0, balance / np.maximum(owed, 1e-12) * (1 - 1e-12))
    paid = amounts * share[row]
    # Where rounding still overdraws (tiny or subnormal balances), lower the share in growing
    # steps until it does not: after about 30 steps the share is 0, which never overdraws.
    for step in range(64):
        over = np.bincount(row, weights=paid, minlength=len(households)) > balance
        if not over.any():
            break
        share[over] = np.nextafter(share[over] * max(0.0, 1 - 1e-9 * 2.0**step), 0)
        paid = amounts * share[row]
    return paid


def _apply(
    target: np.ndarray, idx: np.ndarray | None, delta: np.ndarray, sign: float = 1.0
) -> None:
    """``target[idx] += sign * delta`` in place (all of ``target`` when ``idx`` is None); an
    index given twice receives both deltas. NumPy adds into a contiguous array fastest; a
    compiled loop adds into a strided income column and at indices without temporaries (the
    indices as int64: one compiled version per kind of target, each loaded once, 3 ms)."""
    if delta.ndim == 0:  # one amount for every household (or every index)
        delta = np.full(len(target) if idx is None else len(idx), delta)
    if idx is None and target.flags.c_contiguous:
        (np.add if sign > 0 else np.subtract)(target, delta, out=target)
    elif idx is None:
        add_into(0, len(target), target, delta, sign)
    else:
        add_at(target, np.asarray(idx, dtype=np.int64), delta, sign)
