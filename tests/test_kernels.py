"""Compiled kernels: counter-based random numbers, each kernel against its NumPy formulation,
and identical results on one thread or two."""

import math
import os
import subprocess
import sys
from datetime import date

import numpy as np
import pytest
from numba import njit
from scipy import stats

from jangmadang import streams
from jangmadang.kernels import (
    bits64,
    in_blocks,
    in_ranges,
    indices_below,
    n_blocks,
    rank_weighted_sums,
    sorted_floats,
    take,
    uniform32,
    uniform64,
)
from jangmadang.modules import loyalty_kernels as kernels
from jangmadang.modules.defection_kernels import mark_departures
from jangmadang.modules.food_kernels import buy_food
from jangmadang.modules.patronage_kernels import set_capacity
from jangmadang.modules.population import _kind_from_counts
from jangmadang.modules.population_kernels import move_roles
from jangmadang.results import group_sum
from jangmadang.sim_kernels import economy_sums
from jangmadang.state import ROLE_TO_KIND, Role

MASK = (1 << 64) - 1


def splitmix64(state: int, count: int) -> list[int]:
    """Reference SplitMix64 (Steele, Lea and Flood 2014) in plain Python integers."""
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


@njit
def draw_bits(key, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = bits64(key, i)
    return out


@njit
def draw(key, n):
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        out[i] = uniform32(key, i)
    return out


@njit
def draw64(key, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform64(key, i)
    return out


# -- counter-based random numbers ------------------------------------------------------------


@pytest.mark.parametrize("key", [0, 1234567, 2**64 - 1])
def test_bits_are_the_splitmix64_sequence_starting_at_the_key(key):
    assert draw_bits(np.uint64(key), 5).tolist() == splitmix64(key, 5)
    assert splitmix64(1234567, 1) == [6457827717110365317]  # the published first output


def test_keys_separate_seed_module_month_and_purpose():
    month = date(2015, 3, 1)
    key = streams.key(1, "loyalty", month, "lectures")
    assert key == streams.key(1, "loyalty", month, "lectures")  # common random numbers
    others = {
        streams.key(2, "loyalty", month, "lectures"),
        streams.key(1, "markets", month, "lectures"),
        streams.key(1, "loyalty", date(2015, 4, 1), "lectures"),
        streams.key(1, "loyalty", month, "rallies"),
        streams.key(1, "loyalty", None, "lectures"),
    }
    assert key not in others and len(others) == 5


def test_uniforms_are_uniform_and_independent():
    n = 1_000_000
    key = streams.key(1, "test", date(2020, 1, 1), "uniformity")
    u = draw(key, n).astype(np.float64)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / n)  # var of (u - 1/2)^2 is 1/180
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-4
    bound = 5 / math.sqrt(n)  # 5 standard errors of a correlation of independent draws
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < bound  # neighbouring persons
    other = draw(streams.key(1, "test", date(2020, 2, 1), "uniformity"), n).astype(np.float64)
    assert abs(np.corrcoef(u, other)[0, 1]) < bound  # the same person in another stream
    pairs = np.bincount((u[::2] * 10).astype(int) * 10 + (u[1::2] * 10).astype(int))
    assert stats.chisquare(pairs).pvalue > 1e-4  # neighbours jointly uniform on a 10 x 10 grid


def test_uniform64_is_the_top_53_bits():
    key = streams.key(1, "test", date(2020, 1, 1), "uniformity")
    want = [(bits >> 11) / 2**53 for bits in splitmix64(int(key), 1000)]
    np.testing.assert_array_equal(draw64(key, 1000), want)


@pytest.mark.parametrize("n", [0, 1, 200_001])
def test_indices_below_are_the_draws_below_p_in_order(n):
    key = streams.key(1, "markets", date(2020, 1, 1), "review")
    want = np.flatnonzero(draw(key, n) < np.float32(1 / 12))
    np.testing.assert_array_equal(indices_below(key, n, 1 / 12), want)


# -- the loyalty kernels against their NumPy formulation --------------------------------------


def households(rng, n_households=3000, n_units=60):
    """A small population: household sizes 1-9, inminban not contiguous (as after exiles)."""
    size = rng.integers(1, 10, n_households).astype(np.int16)
    first = np.r_[0, np.cumsum(size)[:-1]].astype(np.int64)
    n = int(size.sum())
    income = rng.gamma(1.0, 10.0, (n_households, 4)).astype(np.float32)
    income[rng.random(n_households) < 0.1] = 0  # no income this month
    adult = rng.random(n) < 0.7
    return {
        "first_person": first,
        "size": size,
        "inminban": rng.integers(0, n_units, n_households).astype(np.int32),
        "food_insecure": rng.random(n_households) < 0.3,
        "income": income,
        "adults": np.add.reduceat(adult, first, dtype=np.float64),
        "adult": adult,
        "loyalty": rng.random(n, dtype=np.float32),
        "unit_loyalty": rng.random(n_units),
        "unit_fear": (0.7 + 0.3 * rng.random(n_units)).astype(np.float32),
        "unit_loss": np.where(
            rng.random((n_units, 2)) < 0.5, 0, 0.02 * rng.random((n_units, 2))
        ).astype(np.float32),
    }


PARS = {
    "hunger_effect": 0.004,
    "market_effect": 0.002,
    "outside_state": np.array([1, 3]),
    "lecture_fed": np.float32(0.002),
    "lecture_hungry": np.float32(0.0002),
    "neighbour_confidence": 0.2,
    "neighbour_pull": 0.05,
    "initial_mean": 0.5,
}
THRESHOLDS = stats.binom(4, 0.16).cdf(np.arange(4)).astype(np.float32)


def update_persons_numpy(h, draws, thresholds, move):
    """The NumPy formulation of ``update_persons``: whole-population temporaries."""
    p = PARS
    household = np.repeat(np.arange(len(h["size"])), h["size"])
    unit = h["inminban"][household]
    loyalty = h["loyalty"].copy()
    if move:
        total = h["income"][:, 0].astype(np.float64)
        for column in range(1, h["income"].shape[1]):
            total += h["income"][:, column]
        outside = h["income"][:, p["outside_state"][0]] + h["income"][:, p["outside_state"][1]]
        dependence = np.divide(outside, total, out=np.zeros(len(total)), where=total > 0)
        erosion = p["hunger_effect"] * h["food_insecure"] + p["market_effect"] * dependence
        change = np.zeros(len(loyalty), dtype=np.float32)
        change -= erosion.astype(np.float32)[household]
        attended = sum((draws > t).astype(np.uint8) for t in thresholds) * h["adult"]
        lecture = np.where(h["food_insecure"], p["lecture_hungry"], p["lecture_fed"])
        gain = (1 - loyalty) * attended.astype(np.float32) * lecture[household]
        change += gain
        change -= h["unit_loss"][unit, 0] * h["adult"]
        change -= h["unit_loss"][unit, 1]
        loyalty += change
        gap = h["unit_loyalty"].astype(np.float32)[unit] - loyalty
        gap *= (np.abs(gap) < np.float32(p["neighbour_confidence"])) & h["adult"]
        gap *= np.float32(p["neighbour_pull"])
        loyalty += gap
        np.clip(loyalty, 0, 1, out=loyalty)
    weighted = loyalty * h["adult"]
    sums = np.zeros(len(h["size"]), dtype=np.float32)
    for k in range(h["size"].max()):  # member by member: the kernel's order of additions
        has = h["size"] > k
        sums[has] += weighted[h["first_person"][has] + k]
    adults = h["adults"]
    household_loyalty = np.where(adults > 0, sums / np.maximum(adults, 1), p["initial_mean"])
    fear = h["unit_fear"][unit]
    compliance = (1 - loyalty) * fear + loyalty
    out = {
        "loyalty": loyalty,
        "compliance": compliance,
        "household_loyalty": household_loyalty.astype(np.float32),
        "household_sums": sums,
    }
    if move:
        went = np.add.reduceat((attended > 0).astype(np.int64), h["first_person"])
        gained = np.add.reduceat(gain, h["first_person"]).astype(np.float64)
        insecure = h["food_insecure"]
        exposed = (h["unit_loss"][unit, 0] > 0) & h["adult"]
        out["totals"] = [
            gained[~insecure].sum(),
            gained[insecure].sum(),
            h["unit_loss"][unit, 0][exposed].astype(np.float64).sum(),
        ]
        out["counts"] = [went[~insecure].sum(), went[insecure].sum(), exposed.sum()]
    return out


def update_persons_kernel(h, key, thresholds, move):
    h = {k: v.copy() for k, v in h.items()}
    n_households, n = len(h["size"]), len(h["loyalty"])
    compliance = np.zeros(n, dtype=np.float32)
    household_loyalty = np.zeros(n_households, dtype=np.float32)
    sums = np.zeros(n_households, dtype=np.float32)
    totals = np.zeros((n_blocks(n_households), 3))
    counts = np.zeros((n_blocks(n_households), 3), dtype=np.int64)
    in_blocks(
        kernels.update_persons,
        n_households,
        totals,
        counts,
        h["first_person"],
        h["size"],
        h["inminban"],
        h["food_insecure"],
        h["income"],
        h["adults"],
        h["adult"],
        h["loyalty"],
        compliance,
        household_loyalty,
        sums,
        h["unit_loyalty"],
        h["unit_fear"],
        h["unit_loss"],
        key,
        thresholds,
        move,
        *PARS.values(),
    )
    return {
        "loyalty": h["loyalty"],
        "compliance": compliance,
        "household_loyalty": household_loyalty,
        "household_sums": sums,
        "totals": totals.sum(axis=0),
        "counts": counts.sum(axis=0),
    }


@pytest.mark.parametrize("move", [True, False])
@pytest.mark.parametrize("lectures", [True, False])
def test_update_persons_matches_its_numpy_formulation(move, lectures):
    h = households(np.random.default_rng(3))
    key = streams.key(1, "loyalty", date(2015, 1, 1), "lectures")
    thresholds = THRESHOLDS if lectures else np.zeros(0, dtype=np.float32)
    got = update_persons_kernel(h, key, thresholds, move)
    want = update_persons_numpy(h, draw(key, len(h["loyalty"])), thresholds, move)
    for name in ("loyalty", "compliance", "household_loyalty", "household_sums"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    if move:
        np.testing.assert_allclose(got["totals"], want["totals"], rtol=1e-6)  # float32 sums
        np.testing.assert_array_equal(got["counts"], want["counts"])
        assert got["counts"][2] > 0  # rallies reached someone
        assert (got["counts"][:2] > 0).all() == lectures


def test_standing_and_unit_sums_match_bincount():
    rng = np.random.default_rng(4)
    h = households(rng)
    n_units = len(h["unit_loyalty"])
    start, members = kernels.unit_members(h["inminban"], n_units)
    np.testing.assert_array_equal(members, np.argsort(h["inminban"], kind="stable"))
    np.testing.assert_array_equal(np.diff(start), np.bincount(h["inminban"], minlength=n_units))
    standing = rng.random(3000, dtype=np.float32)
    spending = rng.random(3000, dtype=np.float32)
    abroad = (rng.random(3000) < 0.2).astype(np.int8)
    want = standing * np.float32(0.9) + np.float32(1 - 0.9) * spending
    sums, counts = np.empty((2, n_units)), np.empty((2, n_units), dtype=np.int64)
    in_ranges(
        kernels.update_standing, n_units, sums, counts, standing, spending, 0.9, abroad,
        start, members,
    )  # fmt: skip
    np.testing.assert_array_equal(standing, want)
    for side, mask in enumerate((abroad == 0, abroad > 0)):
        unit = h["inminban"][mask]
        np.testing.assert_array_equal(counts[side], np.bincount(unit, minlength=n_units))
        np.testing.assert_allclose(
            sums[side], np.bincount(unit, weights=standing[mask], minlength=n_units), rtol=1e-12
        )
    household_sums = rng.random(3000, dtype=np.float32)
    loyalty = np.empty(n_units)
    in_ranges(kernels.unit_means, n_units, loyalty, start, members, household_sums, h["adults"])
    adults = np.bincount(h["inminban"], weights=h["adults"], minlength=n_units)
    weighted = np.bincount(h["inminban"], weights=household_sums, minlength=n_units)
    np.testing.assert_allclose(loyalty, weighted / np.maximum(adults, 1), rtol=1e-12)


def test_record_sums_match_bincount():
    rng = np.random.default_rng(5)
    h = households(rng)
    n_households, n = len(h["size"]), len(h["loyalty"])
    province = np.sort(rng.integers(0, 10, n_households)).astype(np.int8)
    unit_defectors = rng.integers(0, 3, len(h["unit_loyalty"]))
    household_loyalty = rng.random(n_households, dtype=np.float32)
    role = rng.integers(0, 12, n).astype(np.int8)
    compliance = rng.random(n, dtype=np.float32)
    by_group = np.zeros((n_blocks(n_households), 14, 3))
    by_role = np.zeros((n_blocks(n_households), 12, 3))
    in_blocks(
        kernels.record_sums,
        n_households,
        by_group,
        by_role,
        h["first_person"],
        h["inminban"],
        province,
        h["food_insecure"],
        unit_defectors,
        h["adults"],
        household_loyalty,
        h["unit_fear"],
        h["adult"],
        role,
        h["loyalty"],
        compliance,
    )
    by_group, by_role = by_group.sum(axis=0), by_role.sum(axis=0)
    weight = h["adults"]
    complying = household_loyalty + (1 - household_loyalty) * h["unit_fear"][h["inminban"]]
    exposed = (unit_defectors[h["inminban"]] > 0).astype(int)
    offset = 0
    for codes, k in ((province, 10), (h["food_insecure"].astype(int), 2), (exposed, 2)):
        for column, values in enumerate((household_loyalty * weight, complying * weight, weight)):
            want = np.bincount(codes, weights=values, minlength=k)
            np.testing.assert_allclose(by_group[offset : offset + k, column], want, rtol=1e-12)
        offset += k
    adult_role = role[h["adult"]]
    for column, values in enumerate((h["loyalty"], compliance, np.ones(n))):
        want = np.bincount(adult_role, weights=values[h["adult"]], minlength=12)
        np.testing.assert_allclose(by_role[:, column], want, rtol=1e-12)


# -- the defection hazard ----------------------------------------------------------------------


def test_departures_match_their_numpy_formulation():
    rng = np.random.default_rng(8)
    n = 20_000
    role_count = rng.integers(0, 3, (13, n)).astype(np.uint8)
    role_count[:, rng.random(n) < 0.1] = 0  # nobody who could leave
    roles = np.array([1, 2, 4, 7])
    weight = np.array([1.0, 0.12, 0.02, 1.0])
    province = rng.integers(0, 12, n).astype(np.int8)
    relatives = (rng.random(n) < 0.2).astype(np.int8)
    insecure = rng.random(n) < 0.3
    loyalty = rng.random(n, dtype=np.float32)
    cash = rng.gamma(1.0, 3000.0, n)
    scale = 0.01 * rng.random(12)  # far above the real hazard, so many leave
    pars = (6.0, 2.0, 1.0, 0.5, 0.3, 8000.0)
    key = streams.key(1, "defection", date(2015, 1, 1), "departures")
    leaving = np.ones(n, dtype=bool)
    in_blocks(
        mark_departures,
        n,
        leaving,
        role_count,
        roles,
        weight,
        province,
        relatives,
        insecure,
        loyalty,
        cash,
        scale,
        *pars,
        key,
    )
    relatives_multiplier, insecure_multiplier, feedback, reference, later, cost = pars
    hazard = weight @ role_count[roles] * scale[province]
    hazard *= np.where(relatives > 0, relatives_multiplier, np.minimum(1, later + cash / cost))
    hazard *= np.where(insecure, insecure_multiplier, 1)
    hazard *= np.exp(feedback * (reference - loyalty.astype(np.float64)))
    want = draw64(key, n) < -np.expm1(-hazard)
    assert 100 < want.sum() < n // 2
    np.testing.assert_array_equal(leaving, want)


# -- food purchases ----------------------------------------------------------------------------


def test_food_purchases_match_their_numpy_formulation():
    rng = np.random.default_rng(9)
    n = 5000
    size = rng.integers(1, 9, n).astype(np.int16)
    abroad = (rng.random(n) < 0.1).astype(np.uint8)
    detained = (rng.random(n) < 0.05).astype(np.uint8)
    stock = np.where(rng.random(n) < 0.5, 0, 200 * rng.random(n)).astype(np.float32)
    cash = rng.gamma(1.0, 30.0, n)
    province = rng.integers(0, 10, n).astype(np.int8)
    prices = 0.31 * (1 + 0.2 * rng.random(10))  # grain dearer in some provinces
    need_kg, budget_share, threshold = 14.5, 0.9, 0.85
    spend = np.empty(n)
    got_stock, spending, insecure = stock.copy(), np.empty(n, np.float32), np.empty(n, bool)
    in_blocks(
        buy_food,
        n,
        spend,
        got_stock,
        spending,
        insecure,
        size,
        abroad,
        detained,
        cash,
        province,
        need_kg,
        prices,
        budget_share,
        threshold,
    )
    price = prices[province]
    need = need_kg * (size - abroad - detained).astype(np.float32)
    from_stock = np.minimum(stock, need)
    bought = np.minimum(need - from_stock, cash * budget_share / price)
    np.testing.assert_array_equal(got_stock, stock - from_stock)
    np.testing.assert_array_equal(spend, bought * price)
    np.testing.assert_array_equal(spending, (bought * price).astype(np.float32))
    np.testing.assert_array_equal(insecure, bought + from_stock < need * np.float32(threshold))
    assert 0 < insecure.sum() < n


# -- patronage capacity ------------------------------------------------------------------------


def test_capacity_matches_add_at():
    rng = np.random.default_rng(10)
    n, ties = 3000, 2000
    donju = rng.integers(0, n, ties)  # some donju with several ties
    kind = rng.integers(0, 3, ties).astype(np.int8)
    strength = rng.random(ties, dtype=np.float32)
    capacity = rng.random(n, dtype=np.float32)
    favours = set_capacity(capacity, donju, kind, strength, 0, 0.5, 0.5, 0.2)
    lease = kind == 0
    favoured = lease & (strength >= 0.5)
    want = np.zeros(n, dtype=np.float32)
    np.add.at(want, donju[lease], 0.5)
    np.add.at(want, donju[favoured], 0.2)
    np.testing.assert_array_equal(capacity, want)
    assert favours == favoured.sum() > 0


# -- the economy's indicators -----------------------------------------------------------------


def test_economy_sums_match_bincount():
    rng = np.random.default_rng(6)
    n = 5000
    income = rng.gamma(1.0, 10.0, (n, 4)).astype(np.float32)
    income[rng.random(n) < 0.2] = 0
    income[rng.random(n) < 0.2, 1:] = 0  # market income only
    cash = rng.gamma(1.0, 300.0, n)
    province = np.sort(rng.integers(0, 12, n)).astype(np.int8)
    kind = rng.integers(0, 8, n).astype(np.int8)
    by_province = np.zeros((n_blocks(n), 12, 6))
    by_kind = np.zeros((n_blocks(n), 8, 6))
    earners = np.zeros((n_blocks(n), 12, 2), dtype=np.int64)
    total = np.empty(n)
    in_blocks(
        economy_sums, n, by_province, by_kind, earners, total, income, cash, province, kind, 1, 0.75
    )
    want_total = income.astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(total, want_total, rtol=1e-15)
    for sums, codes, k in ((by_province, province, 12), (by_kind, kind, 8)):
        sums = sums.sum(axis=0)
        columns = [*income.astype(np.float64).T, cash, np.ones(n)]
        for column, values in enumerate(columns):
            want = np.bincount(codes, weights=values, minlength=k)
            np.testing.assert_allclose(sums[:, column], want, rtol=1e-12)
    earning = want_total > 0
    mostly = earning & (income[:, 1] >= 0.75 * want_total)
    want = np.stack([np.bincount(province, weights=w, minlength=12) for w in (earning, mostly)])
    np.testing.assert_array_equal(earners.sum(axis=0), want.T)


@pytest.mark.parametrize("n", [0, 1, 10_001])
def test_rank_weighted_sums_match_numpy(n):
    values = np.random.default_rng(7).gamma(1.0, 10.0, n).round(1)  # with ties
    ordered = np.sort(values)
    total, weighted = rank_weighted_sums(ordered, ordered[:0])
    np.testing.assert_allclose(total, ordered.sum(), rtol=1e-12)
    np.testing.assert_allclose(weighted, (np.arange(1, n + 1) * ordered).sum(), rtol=1e-12)
    for cut in {0, n // 3, n}:  # two sorted parts merged as they are summed: the same bits
        merged = rank_weighted_sums(np.sort(values[:cut]), np.sort(values[cut:]))
        assert merged == (total, weighted)


@pytest.mark.parametrize("n", [0, 1, 2, 10_001])
def test_sorted_floats_match_numpy(n):
    rng = np.random.default_rng(8)
    values = rng.gamma(1.0, 10.0, n).round(1) * rng.choice([-1.0, 1.0], n)  # with ties
    values[: n // 10] = rng.choice([0.0, -0.0, np.inf, -np.inf, 5e-324, 1e300], n // 10)
    np.testing.assert_array_equal(sorted_floats(values), np.sort(values))
    np.testing.assert_array_equal(sorted_floats(np.full(n, 3.5)), np.full(n, 3.5))


@pytest.mark.parametrize("ordered", [True, False])
def test_group_sum_matches_bincount(ordered):
    rng = np.random.default_rng(9)
    codes = rng.integers(0, 12, 50_000).astype(np.int8)
    if ordered:
        codes.sort()
    for weights in (
        None,
        rng.random(50_000) < 0.3,
        rng.integers(0, 7, 50_000).astype(np.uint8),
        rng.integers(-300, 300, 50_000).astype(np.int16),
        rng.random(50_000),
    ):
        want = np.bincount(codes, weights=weights, minlength=12)
        got = group_sum(codes, 12, weights)
        assert got.dtype == want.dtype
        if weights is None or weights.dtype.kind != "f":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12)


# -- the whole model on one thread and on two --------------------------------------------------

RUN = """
import hashlib, numba, numpy as np, jangmadang as jm
sim = jm.Sim("baseline", population=20_000, start="2020-01", end="2020-06").run()
digest = hashlib.sha256(sim.results.to_csv().encode())
for array in (sim.people.loyalty, sim.people.compliance, sim.people.role, sim.households.cash):
    digest.update(array.tobytes())
print(numba.config.NUMBA_NUM_THREADS, digest.hexdigest())
"""


def test_results_are_identical_on_one_and_two_threads():
    digests = set()
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        out = subprocess.run(
            [sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        assert out[0] == threads
        digests.add(out[1])
    assert len(digests) == 1, digests


def test_role_moves_match_their_numpy_formulation():
    """``population_kernels.move_roles`` against the counts and kinds recomputed with NumPy."""
    rng = np.random.default_rng(5)
    n_households = 500
    household = np.sort(rng.integers(0, n_households, 3000))
    role = rng.integers(0, len(Role), len(household)).astype(np.int8)
    counts = np.zeros((len(Role), n_households), dtype=np.uint8)
    np.add.at(counts, (role, household), 1)
    kind = _kind_from_counts(counts)
    persons = np.sort(rng.choice(len(household), 400, replace=False))
    for new_role in (Role.TRADER, Role.DECEASED):
        move_roles(counts, kind, household[persons], role[persons], int(new_role), ROLE_TO_KIND)
        role[persons] = new_role
        want = np.zeros_like(counts)
        np.add.at(want, (role, household), 1)
        np.testing.assert_array_equal(counts, want)
        np.testing.assert_array_equal(kind, _kind_from_counts(want))


def test_ranks_within_are_the_stable_argsort_ranks():
    rng = np.random.default_rng(8)
    values = rng.choice(rng.normal(0, 1, 500).astype(np.float32), 20_000)  # many ties
    values[rng.random(20_000) < 0.05] = np.nan
    values[rng.random(20_000) < 0.05] = 0.0
    values[rng.random(20_000) < 0.05] = -0.0
    values[:3] = [np.inf, -np.inf, np.float32(-1e-45)]
    bounds = np.array([0, 0, 1, 7000, 20_000])  # an empty range, one item, two more
    ranks = np.full(20_000, -1, dtype=np.float32)
    kernels.ranks_within(values, bounds, ranks)
    want = np.empty(20_000, dtype=np.float32)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        order = np.argsort(values[lo:hi], kind="stable")
        want[lo + order] = np.arange(hi - lo, dtype=np.float32) / max(hi - lo - 1, 1)
    np.testing.assert_array_equal(ranks, want)


def test_age_everyone_matches_its_numpy_formulation():
    from jangmadang.modules import demography_kernels as dk
    from jangmadang.state import AGE_BAND_STARTS

    rng = np.random.default_rng(9)
    n, now = 50_000, 1200
    birth_month = (now - rng.integers(0, 12 * 90, n)).astype(np.int16)
    role = rng.integers(0, 13, n).astype(np.int8)
    female, married, exempt = (rng.random((3, n)) < 0.5).astype(bool)
    retiring_role = rng.random(13) < 0.5
    codes, age_band = np.empty(n, dtype=np.uint8), np.empty(n, dtype=np.int8)
    dk.age_everyone(
        0, n, codes, age_band, role, female, married, exempt, birth_month, now,
        AGE_BAND_STARTS, retiring_role, 0, 17, 60, 55,
    )  # fmt: skip
    age = (now - birth_month.astype(np.int64)) // 12
    np.testing.assert_array_equal(age_band, np.searchsorted(AGE_BAND_STARTS, age, side="right"))
    old = age >= np.where(female, 55, 60)
    leaves = (role == 0) & (age >= 17) & ~(female & married)
    want = np.select(
        [old & retiring_role[role], old & exempt, ~old & leaves],
        [dk.RETIRES, dk.STOPS_PAYING, dk.LEAVES_SCHOOL],
        dk.NOTHING,
    )
    np.testing.assert_array_equal(codes, want)
    assert {dk.RETIRES, dk.STOPS_PAYING, dk.LEAVES_SCHOOL} <= set(codes.tolist())


def test_count_adults_matches_its_numpy_formulation():
    h = households(np.random.default_rng(10))
    n = len(h["loyalty"])
    rng = np.random.default_rng(11)
    age_band, role = rng.integers(0, 5, n).astype(np.int8), rng.integers(0, 13, n).astype(np.int8)
    adult, counts = np.empty(n, dtype=bool), np.empty(len(h["size"]))
    in_blocks(
        kernels.count_adults, len(h["size"]), adult, counts, age_band, role, 1, 12,
        h["first_person"], h["size"],
    )  # fmt: skip
    want = (age_band >= 1) & (role != 12)
    np.testing.assert_array_equal(adult, want)
    household = np.repeat(np.arange(len(h["size"])), h["size"])
    np.testing.assert_array_equal(counts, np.bincount(household, want, len(h["size"])))


@pytest.mark.parametrize(
    "dtype", [bool, np.int8, np.uint8, np.int16, np.float32, np.int64, np.float64]
)
def test_take_moves_values_of_every_dtype(dtype):
    rng = np.random.default_rng(8)
    values = (rng.normal(0, 100, 20_000)).astype(dtype)
    source = rng.integers(0, len(values), 30_000)
    moved = take(values, source)
    assert moved.dtype == values.dtype
    np.testing.assert_array_equal(moved, values[source])
    table = rng.random((100, 3))  # not 1-D: NumPy's take
    np.testing.assert_array_equal(take(table, source[:50] % 100), table[source[:50] % 100])


# -- surveillance density, wages and cadres (enforcement, official economy, patronage) ---------


def test_wages_match_their_numpy_formulation():
    from jangmadang.modules.official_economy_kernels import sum_wages

    rng = np.random.default_rng(12)
    n = 10_001
    role_count = rng.integers(0, 3, (13, n)).astype(np.uint8)
    wage = np.zeros(13)
    wage[[1, 2, 5, 8, 9]] = [2.125, 5.0, 10.0, 5.0, 5.0]
    values = np.unique(wage[wage != 0])
    roles = [np.flatnonzero(wage == value) for value in values]
    wages = np.full(n, np.nan)
    in_blocks(
        sum_wages,
        n,
        wages,
        role_count,
        np.concatenate(roles),
        np.cumsum([len(r) for r in roles]),
        values,
    )
    want = np.zeros(n)
    for value, group in zip(values, roles, strict=True):
        want += role_count[group].sum(axis=0) * value
    np.testing.assert_array_equal(wages, want)


def test_persons_in_roles_match_flatnonzero():
    from jangmadang.modules.enforcement_kernels import persons_in_roles
    from jangmadang.state import CADRE_ROLES

    # Patronage finds the cadres as the range of their codes.
    assert sorted(CADRE_ROLES) == list(range(min(CADRE_ROLES), max(CADRE_ROLES) + 1))
    role = np.random.default_rng(13).integers(0, 13, 50_000).astype(np.int8)
    for first, last in ((5, 7), (8, 8), (0, 0), (12, 12), (0, 12)):
        want = np.flatnonzero((role >= first) & (role <= last))
        np.testing.assert_array_equal(persons_in_roles(role, first, last), want)


def test_responsible_members_match_numpy():
    from jangmadang.modules.enforcement_kernels import responsible_members
    from jangmadang.state import IS_AWAY, AgeBand

    rng = np.random.default_rng(14)
    size = rng.integers(1, 8, 5_000).astype(np.int16)
    first_person = (np.cumsum(size) - size).astype(np.int32)
    role = rng.choice([0, 2, 3, 10, 11, 12], size.sum()).astype(np.int8)
    age_band = rng.integers(0, 5, size.sum()).astype(np.int8)
    households = np.sort(rng.choice(len(size), 2_000, replace=False))
    # The NumPy formulation: one pass over the households per member rank.
    first, n = first_person[households], size[households]
    want = np.full(len(households), -1, dtype=np.int64)
    for adults_only in (True, False):
        for k in range(int(n.max())):
            candidate = np.minimum(first + k, len(role) - 1)
            ok = (want < 0) & (k < n) & ~IS_AWAY[role[candidate]]
            if adults_only:
                ok &= age_band[candidate] >= AgeBand.YOUNG
            want[ok] = candidate[ok]
    got = responsible_members(
        households, first_person, size, role, age_band, IS_AWAY, int(AgeBand.YOUNG)
    )
    np.testing.assert_array_equal(got, want)
    assert (want == -1).any() and (want >= 0).any()


def test_remittance_sums_match_bincount():
    from jangmadang.modules.remittances_kernels import household_sums

    rng = np.random.default_rng(14)
    n = 20_000
    province = rng.integers(0, 12, n).astype(np.int8)
    province[: n // 2].sort()  # runs of one province, then households in any order
    relatives = (rng.random(n) < 0.1).astype(np.int8) * rng.integers(1, 3, n).astype(np.int8)
    income = rng.gamma(1.0, 10.0, (n, 4)).astype(np.float32)
    spending = rng.gamma(1.0, 20.0, n).astype(np.float32)
    cash = rng.gamma(1.0, 300.0, n)
    received, counts, sums = household_sums(province, 13, relatives, income, 2, spending, cash)
    want = np.bincount(province, weights=income[:, 2].astype(np.float64), minlength=13)
    np.testing.assert_array_equal(received, want)
    group = (relatives > 0).astype(np.int8)
    np.testing.assert_array_equal(counts, np.bincount(group, minlength=2))
    total = income[:, 0].astype(np.float64)
    for source in range(1, 4):
        total += income[:, source]
    for row, values in zip(sums, (spending.astype(np.float64), cash, total), strict=True):
        np.testing.assert_array_equal(row, np.bincount(group, weights=values, minlength=2))
