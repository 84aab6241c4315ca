"""The ledger: every transfer balances, leaks are caught, flows are reported."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jangmadang.ledger import (
    HOUSEHOLDS,
    IncomeSource,
    Ledger,
    MoneyNotConserved,
    _apply,
    within_means,
)


def make_ledger(n=5, cash=10.0):
    ledger = Ledger(np.full(n, cash), np.zeros((n, len(IncomeSource)), dtype=np.float32))
    ledger.open("state", external=True)
    ledger.open("market")
    ledger.start()
    return ledger


def test_transfers_conserve_and_record_income():
    ledger = make_ledger()
    ledger.pay("wages", "state", HOUSEHOLDS, np.full(5, 5.0), source=IncomeSource.STATE)
    ledger.pay("purchase", HOUSEHOLDS, "market", np.arange(5.0))
    ledger.pay(
        "sales",
        "market",
        HOUSEHOLDS,
        [4.0, 6.0],
        credit_idx=np.array([0, 0]),
        source=IncomeSource.MARKET,
    )
    ledger.check()
    assert ledger.cash[0] == pytest.approx(10 + 5 - 0 + 10)
    assert ledger.income[0, IncomeSource.MARKET] == pytest.approx(10)
    assert ledger.balances["state"] == pytest.approx(-25)
    flows = ledger.close_month()
    assert flows[("wages", "state", HOUSEHOLDS)] == pytest.approx(25)
    assert ledger.close_month() == {}


def test_money_appearing_outside_the_ledger_is_caught():
    ledger = make_ledger()
    ledger.cash[2] += 1.0  # a module writing cash directly
    with pytest.raises(MoneyNotConserved, match="drifted"):
        ledger.check()


def test_overdrawn_household_is_caught():
    ledger = make_ledger()
    ledger.pay("theft", HOUSEHOLDS, "market", [11.0], debit_idx=np.array([1]))
    with pytest.raises(MoneyNotConserved, match="negative"):
        ledger.check()


def test_unknown_account_is_an_error():
    with pytest.raises(KeyError, match="never opened"):
        make_ledger().pay("x", "nowhere", HOUSEHOLDS, np.ones(5))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1e6)), min_size=1, max_size=30))
def test_any_sequence_of_pair_transfers_conserves(transfers):
    ledger = make_ledger(cash=1e7)
    for i, (who, amount) in enumerate(transfers):
        ledger.pay(
            "p2p",
            HOUSEHOLDS,
            HOUSEHOLDS,
            [amount],
            debit_idx=np.array([who]),
            credit_idx=np.array([(who + i + 1) % 5]),
        )
        ledger.pay("tax", HOUSEHOLDS, "state", [amount / 3], debit_idx=np.array([who]))
    ledger.check()


@given(
    st.lists(
        st.one_of(st.floats(0, 1e4), st.floats(0, 1e-300)),  # tiny and subnormal balances too
        min_size=3,
        max_size=3,
    ),
    st.lists(st.tuples(st.integers(0, 2), st.floats(0, 1e4)), max_size=20),
)
# Found by Hypothesis: share * amount rounded above a subnormal balance.
@example(balances=[0.0, 0.0, 2.225073858507203e-309], debts=[(2, 1367.0)])
def test_within_means_never_overdraws_and_keeps_proportions(balances, debts):
    cash = np.array(balances)
    payers = np.array([p for p, _ in debts], dtype=np.int64)
    amounts = np.array([a for _, a in debts])
    paid = within_means(cash, payers, amounts)
    for household in range(3):
        mine = payers == household
        assert paid[mine].sum() <= cash[household]
        if amounts[mine].sum() <= cash[household] * (1 - 1e-9):
            assert np.allclose(paid[mine], amounts[mine])
        elif amounts[mine].sum() > 0:
            share = paid[mine].sum() / amounts[mine].sum()
            assert np.allclose(paid[mine], amounts[mine] * share)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_payments_add_as_numpy_adds(sign):
    """The compiled adds give NumPy's in-place sums to the bit: into all of the cash, into a
    strided float32 income column, at distinct and at repeated indices."""
    rng = np.random.default_rng(3)
    op = np.add if sign > 0 else np.subtract
    cash, income = rng.random(1000) * 100, rng.random((1000, 4)).astype(np.float32)
    delta = rng.random(1000)
    for target in (cash, income[:, 1]):
        want = target.copy()
        op(want, delta, out=want)
        _apply(target, None, delta, sign)
        np.testing.assert_array_equal(target, want)
    idx = rng.integers(0, 1000, 400)  # with repeats
    for target in (cash, income[:, 2]):
        want = target.copy()
        op.at(want, idx, delta[:400])
        _apply(target, idx, delta[:400], sign)
        np.testing.assert_array_equal(target, want)
    want = op(cash[[5, 7]], 2.5)  # float64: the same as in place
    _apply(cash, np.array([5, 7]), np.asarray(2.5), sign)  # one amount for each index
    np.testing.assert_array_equal(cash[[5, 7]], want)


def test_total_income_adds_the_sources_column_by_column():
    income = np.random.default_rng(4).random((10_000, len(IncomeSource))).astype(np.float32)
    ledger = Ledger(np.zeros(len(income)), income)
    want = income[:, 0].astype(np.float64)
    for source in range(1, income.shape[1]):
        want += income[:, source]
    np.testing.assert_array_equal(ledger.total_income(), want)


def test_a_transfer_written_by_a_kernel_is_booked_as_pay_books_it():
    paid, booked = make_ledger(), make_ledger()
    amounts = np.array([1.0, 2.0, 0.0, 3.5, 1.0])
    paid.pay("sales", "market", HOUSEHOLDS, amounts, source=IncomeSource.MARKET)
    booked.cash += amounts  # what the kernel wrote
    booked.income[:, IncomeSource.MARKET] += amounts
    assert booked.book("sales", "market", HOUSEHOLDS, amounts.sum()) == amounts.sum()
    assert booked.balances == paid.balances
    assert booked.close_month() == paid.close_month()
    booked.cash[0] += 1.0  # a kernel that wrote more than it booked
    with pytest.raises(MoneyNotConserved, match="drifted"):
        booked.check()
