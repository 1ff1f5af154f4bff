"""Every released number is right (issue 11, points 2–7): one regression test per finding.

The warehouses come from ``tests/_release_worlds.py``: few rows per person and values
inside the policy bounds, so that with a fixed rows bound of ``MAX_CLAIMS`` nothing is
dropped or clamped and the bounded exact answer is the plain SQL answer over the rows.
Repeated releases re-run only the noise stage on one executed state (fresh OpenDP draws
each time; the budget and cache are not involved).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enclave.noise import laplace_int, threshold_counts, threshold_for_delta
from enclave.settings import Settings
from tests._release_worlds import (
    MAX_CLAIMS,
    REGIONS,
    exact,
    gateway,
    noise_again,
    stages,
    write_keys_world,
    write_world,
)

CASE_LOS = "CASE WHEN c.setting = 'inpatient' THEN c.los_days END"
LEFT = "FROM persons p LEFT JOIN claims c ON c.person_id = p.person_id"
BY_REGION = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
#: ε at which the noise is far below the tolerances of the "close to the exact value" checks
SHARP = 500.0
DRAWS = 1500


def _open(root: Path, name: str, **world: Any) -> Settings:
    settings = Settings(home=root / name)
    settings.ensure_home()
    write_world(settings.warehouse_path, **world)
    return settings


def _close(ctx: Any) -> None:
    ctx.engine.close()
    close = getattr(ctx.store, "close", None)
    if close is not None:
        close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The plain world at a fixed rows bound that drops nothing."""
    settings = _open(tmp_path_factory.mktemp("world"), "w", null_regions=0.1)
    ctx = gateway(settings, rows_per_person=MAX_CLAIMS)
    yield ctx
    _close(ctx)


def _row(release: Any, i: int = 0) -> dict[str, Any]:
    return dict(zip(release.columns, release.rows[i], strict=True))


def _draws(ctx: Any, sql: str, epsilon: float, n: int) -> Iterator[Any]:
    state = stages(ctx, sql, epsilon)
    for _ in range(n):
        yield noise_again(state, ctx)


# -- point 2: NULL is not the upper clamp ---------------------------------------------

NULL_QUERIES = {
    "avg of CASE without ELSE": (
        f"SELECT AVG({CASE_LOS}) AS x FROM claims c",
        f"SELECT AVG({CASE_LOS}) FROM claims c",
    ),
    "sum of CASE without ELSE": (
        f"SELECT SUM({CASE_LOS}) AS x FROM claims c",
        f"SELECT SUM({CASE_LOS}) FROM claims c",
    ),
    "avg over LEFT JOIN NULLs": (
        f"SELECT AVG(c.amount) AS x {LEFT}",
        f"SELECT AVG(c.amount) {LEFT}",
    ),
    "sum over LEFT JOIN NULLs": (
        f"SELECT SUM(c.amount) AS x {LEFT}",
        f"SELECT SUM(c.amount) {LEFT}",
    ),
}


@pytest.mark.parametrize("name", sorted(NULL_QUERIES))
def test_null_values_add_nothing(world: Any, name: str) -> None:
    """At high ε the estimate is the average / total of the non-NULL values (not pulled
    towards the clamp's upper end), and at ε = 1 the 95% interval covers the exact value
    in ≥ 93% of the releases (1,500 draws: 93% is > 3.5 standard errors below 95%)."""
    sql, plain = NULL_QUERIES[name]
    truth = float(exact(world, plain)[0][0])
    sharp = _row(next(_draws(world, sql, SHARP, 1)))["x"]
    assert sharp == pytest.approx(truth, rel=0.03), f"{name}: estimate far from the exact value"
    covered = 0
    for release in _draws(world, sql, 1.0, DRAWS):
        r = _row(release)
        covered += r["x_ci_low"] <= truth <= r["x_ci_high"]
    assert covered >= 0.93 * DRAWS, f"{name}: 95% intervals covered {covered}/{DRAWS}"


def test_null_values_never_enter_a_median(world: Any) -> None:
    truth = float(exact(world, f"SELECT MEDIAN({CASE_LOS}) FROM claims c")[0][0])
    top = exact(world, f"SELECT MAX({CASE_LOS}) FROM claims c")[0][0]
    release = next(_draws(world, f"SELECT MEDIAN({CASE_LOS}) AS x FROM claims c", SHARP, 1))
    median = _row(release)["x"]
    assert abs(median - truth) <= 1, "the median is not that of the non-NULL values"
    assert median <= top


def test_null_values_with_the_auto_rows_bound(tmp_path: Path) -> None:
    """The same on the "auto" path (one-pass SQL): NULLs are not counted or summed."""
    ctx = gateway(_open(tmp_path, "auto", seed=6))
    try:
        sql, plain = NULL_QUERIES["avg of CASE without ELSE"]
        truth = float(exact(ctx, plain)[0][0])
        estimate = _row(next(_draws(ctx, sql, SHARP, 1)))["x"]
        assert estimate == pytest.approx(truth, rel=0.1)
    finally:
        _close(ctx)


# -- point 3: counts beyond 32 bits ---------------------------------------------------


def test_laplace_counts_beyond_32_bits() -> None:
    values = [2**31 + 5, 3 * 2**40]
    noisy, scale = laplace_int(values, sensitivity=1, epsilon=1.0)
    assert scale == pytest.approx(1.0)
    assert all(abs(n - v) <= 50 for n, v in zip(noisy, values, strict=True))


def test_threshold_counts_beyond_32_bits() -> None:
    scale, tau = threshold_for_delta(l0=1, l1=1, linf=1, epsilon=1.0, delta=1e-6)
    big = 2**31 + 7
    out = threshold_counts({"k": big, "small": 1}, scale=scale, threshold=tau)
    assert set(out) == {"k"} or set(out) == {"k", "small"}
    assert abs(out["k"] - big) <= 50


# -- point 4: exact, order-independent totals -----------------------------------------

TOTALS = (
    "SELECT c.setting, SUM(c.amount) AS s, AVG(c.los_days) AS a, COUNT(*) AS n "
    "FROM claims c GROUP BY c.setting",
    f"SELECT p.region, SUM(c.amount) AS s, STDDEV(c.amount) AS sd {BY_REGION} GROUP BY p.region",
    "SELECT SUM(c.amount) AS s FROM claims c",
)


def test_exact_totals_do_not_depend_on_row_order(tmp_path: Path) -> None:
    """The same rows stored in two orders give bit-identical bounded totals (rows bound 2,
    so rows are also dropped), and the release states each sum's grid."""
    ctxs = [
        gateway(_open(tmp_path, name, seed=8, shuffle_seed=shuffle), rows_per_person=2)
        for name, shuffle in (("stored", None), ("shuffled", 1))
    ]
    try:
        for sql in TOTALS:
            # the executed totals: at every candidate of an "auto" value clamp (the clamp
            # chosen after them is a DP draw)
            a, b = (sorted(map(tuple, stages(c, sql, upto=2).rows), key=repr) for c in ctxs)
            assert a == b, "exact bounded totals differ with the rows' storage order"
        bounds = noise_again(stages(ctxs[0], TOTALS[0]), ctxs[0]).bounds
        grids, clamp = bounds["grids"], bounds["clamps"]["s"][1]  # amount: an "auto" clamp
        assert grids["s"] == pytest.approx(10.0 ** (math.floor(math.log10(clamp)) - 6))
        assert grids["a (sum)"] == pytest.approx(1e-5)  # lengths of stay in [0, 60]
    finally:
        for c in ctxs:
            _close(c)


# -- point 5: intervals of thresholded private keys -----------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = Settings(home=tmp_path_factory.mktemp("keys") / "k")
    settings.ensure_home()
    write_keys_world(settings.warehouse_path, top=36, copies=5)
    ctx = gateway(settings, rows_per_person=1)
    yield ctx
    _close(ctx)


def _true_count(code: str) -> int:
    return int(code[1:3])


def test_private_key_intervals_cover_among_released_keys(keys: Any) -> None:
    """Among releases where a private key appears, its COUNT's interval covers the exact
    count ≥ 93% of the time, for keys just below the threshold τ (where a count selected
    on its own noise is biased upwards) and just above it."""
    sql = "SELECT c.icd10, COUNT(*) AS n FROM claims c GROUP BY c.icd10"
    state = stages(keys, sql, 1.0)
    tau = noise_again(state, keys).mechanisms["key_selection"]["threshold"]
    assert 4 <= tau <= 32, "the keys world must hold counts on both sides of τ"
    seen = {"below": [0, 0], "above": [0, 0]}
    for _ in range(300):
        for row in noise_again(state, keys).rows:
            r = dict(zip(("key", "n", "se", "low", "high"), row, strict=True))
            truth = _true_count(r["key"])
            side = "below" if tau - 3 <= truth < tau - 1 else "above" if tau <= truth else None
            if side is None:
                continue
            seen[side][0] += 1
            seen[side][1] += r["low"] <= truth <= r["high"]
    for side, (released, covered) in seen.items():
        assert released >= 100, f"too few releases of keys {side} τ to judge ({released})"
        share = covered / released
        assert share >= 0.93, f"keys {side} τ: covered {share:.1%} of {released} releases"


# -- point 6: the one-pass "auto" path files NULL person-level keys like the two-pass -


def _same(a: list[Any], b: list[Any]) -> None:
    a, b = sorted(map(tuple, a), key=repr), sorted(map(tuple, b), key=repr)
    assert [len(r) for r in a] == [len(r) for r in b]
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                assert float(u) == pytest.approx(float(v), rel=1e-9, abs=1e-9)
            else:
                assert u == v, "one-pass totals differ from the bounded SQL"


ON_INPATIENT = "FROM claims c LEFT JOIN persons p ON p.person_id = c.person_id"
AUTO_QUERIES = (
    f"SELECT p.region, COUNT(*) AS n, SUM(c.amount) AS s {ON_INPATIENT} "
    "AND c.setting = 'inpatient' GROUP BY p.region",
    f"SELECT p.birth_year, COUNT(*) AS n {ON_INPATIENT} AND c.setting = 'inpatient' "
    "GROUP BY p.birth_year",
    f"SELECT p.sex, AVG(c.amount) AS m {ON_INPATIENT} GROUP BY p.sex",
    f"SELECT p.sex, STDDEV(c.amount) AS sd {ON_INPATIENT} GROUP BY p.sex",
)


@pytest.mark.parametrize("sql", AUTO_QUERIES)
def test_one_pass_files_null_person_keys_like_two_pass(tmp_path: Path, sql: str) -> None:
    """Persons with a NULL region, and rows whose persons columns are NULL through a LEFT
    JOIN condition: the one-pass totals at c equal the bounded SQL's at that c (but an
    AVG's clamped shares of kept rows, which the bounded SQL reads at the chosen c)."""
    from enclave.gateway.sql.auto import totals_at
    from enclave.gateway.sql.bounded import KEPT_STATS, as_stat
    from enclave.gateway.sql.rewrite import auto_query, bounded_query
    from enclave.gateway.sql.stats import piece_stats

    ctx = gateway(_open(tmp_path, "nulls", seed=4, null_regions=0.3))
    try:
        p = stages(ctx, sql, upto=0).plan
        assert p.rows_per_person == "auto"
        _, both = ctx.engine.execute(auto_query(p, ctx.dataset, "salt"))
        stats = piece_stats(p.aggregates, p.epsilon_split)
        nk = len(p.keys)
        later = {nk + i for i, st in enumerate(stats) if as_stat(st).stat in KEPT_STATS}
        for c in (1, 2, 3, 7, ctx.dataset.contribution.auto_max_rows):
            fixed = dataclasses.replace(p, rows_per_person=c)
            _, want = ctx.engine.execute(bounded_query(fixed, ctx.dataset, "salt"))
            want = [tuple(0 if j in later else v for j, v in enumerate(r)) for r in want]
            _same(totals_at(both, n_keys=nk, stats=stats, c=c), want)
    finally:
        _close(ctx)


# -- point 7: error bars that claim no more than they know ----------------------------

HONEST = (
    f"SELECT p.region, COUNT(*) AS n, "
    f"AVG(CASE WHEN c.setting = 'inpatient' THEN 1 ELSE 0 END) AS a, "
    f"SUM(c.amount) AS s {BY_REGION} GROUP BY p.region",
    "SELECT c.setting, VARIANCE(c.los_days) AS v, STDDEV(c.amount) AS sd "
    "FROM claims c GROUP BY c.setting",
)
SPREADS = ("a", "v", "sd")


def _intervals(release: Any) -> Iterator[tuple[dict[str, Any], str]]:
    for i in range(len(release.rows)):
        r = _row(release, i)
        for col in release.columns:
            if f"{col}_se" in r:
                yield r, col


@pytest.mark.parametrize("sql", HONEST)
def test_intervals_claim_no_more_than_they_know(world: Any, sql: str) -> None:
    """At ε = 1, where most public groups are empty: no zero-width AVG / VARIANCE /
    STDDEV interval with a non-zero SE; an AVG whose count may be zero is withheld (NULL,
    interval = the clamp) and the notes say so; AVG intervals stay inside the clamp; SUM
    estimates and intervals of non-negative values never go below 0."""
    for release in _draws(world, sql, 1.0, 20):
        clamps = release.bounds["clamps"]
        notes = getattr(release, "notes", ())
        for r, col in _intervals(release):
            value, se, low, high = (r[col], r[f"{col}_se"], r[f"{col}_ci_low"], r[f"{col}_ci_high"])
            if col in SPREADS and se:
                assert low < high, f"{col}: zero-width interval with SE > 0"
            if col == "a":
                lo, hi = clamps["a"]
                assert lo <= low < high <= hi
                if value is None:
                    assert (low, high) == (lo, hi)
                    assert any(n.startswith("a:") and "withheld" in n for n in notes)
            if col == "s":
                assert value >= 0 and low >= 0, "SUM interval below 0 for amounts ≥ 0"


def test_averages_of_groups_with_data_are_estimates(world: Any) -> None:
    """At ε = 10 the groups with hundreds of rows get an AVG: never withheld, never
    pinned at a clamp end with the whole clamp as its interval."""
    for release in _draws(world, HONEST[0], 10.0, 20):
        lo, hi = release.bounds["clamps"]["a"]
        for i in range(len(release.rows)):
            r = _row(release, i)
            if r["region"] not in REGIONS:
                continue
            value, low, high = r["a"], r["a_ci_low"], r["a_ci_high"]
            assert value is not None, "AVG withheld in a group with data"
            assert lo < value < hi and (low, high) != (lo, hi), "AVG pinned at the clamp"


def test_no_zero_width_count_or_sum_interval(world: Any) -> None:
    sql = HONEST[0]
    for release in _draws(world, sql, 1.0, 30):
        for r, col in _intervals(release):
            if col in ("n", "s") and r[f"{col}_se"]:
                assert r[f"{col}_ci_low"] < r[f"{col}_ci_high"], f"{col}: [0, 0] with SE > 0"


def test_withheld_average_is_explained_in_the_notes(world: Any) -> None:
    """Empty public groups (regions no one in the world lives in): AVG is withheld in
    most of them and one note per AVG column says in how many, with the count's SE."""
    release = next(_draws(world, HONEST[0], 1.0, 1))
    withheld = sum(_row(release, i)["a"] is None for i in range(len(release.rows)))
    assert withheld > 0
    notes = [n for n in release.notes if n.startswith("a:")]
    assert len(notes) == 1 and f"{withheld} of {len(release.rows)}" in notes[0]
    assert math.isfinite(float(notes[0].split("SE ≈ ")[1].split(")")[0]))


def test_every_release_states_what_its_intervals_cover(world: Any) -> None:
    out = next(_draws(world, HONEST[1], 1.0, 1)).to_json()
    assert "bias" in out["interval_note"] and "bound" in out["interval_note"]
    assert isinstance(out["notes"], list)
