"""plan: bounds by interval arithmetic, key publicity, ε and δ rules."""

from __future__ import annotations

import pytest

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.plan.planner import plan
from tests._warehouse import build, context, front


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    d = tmp_path_factory.mktemp("wh")
    return context(build(d / "w.duckdb", persons=200), d)


def _plan(sql, ctx, **kw):
    return plan(front(sql, ctx, **kw), ctx).plan


@pytest.mark.parametrize(
    ("expr", "bounds"),
    [
        ("amount", (0.0, 5_000_000.0)),  # the widest bound of an "auto" clamp
        ("least(amount, 500)", (0.0, 500.0)),
        ("greatest(least(amount, 500), 100)", (100.0, 500.0)),
        ("amount * 2 - 10", (-10.0, 9_999_990.0)),
        ("CASE WHEN setting = 'inpatient' THEN los_days ELSE 0 END", (0.0, 60.0)),
        ("coalesce(los_days, 7)", (0.0, 60.0)),
        ("los_days - amount", (-5_000_000.0, 60.0)),
    ],
)
def test_sum_bounds_by_interval_arithmetic(ctx, expr, bounds):
    p = _plan(f"SELECT sum({expr}) AS s FROM claims", ctx, epsilon=0.5)
    (agg,) = p.aggregates
    assert (agg.lower, agg.upper) == bounds


@pytest.mark.parametrize(
    ("expr", "top", "clamps"),
    [
        ("amount", 5_000_000.0, 16),
        ("amount * 2", 10_000_000.0, 16),
        ("greatest(amount - 100, 0)", 4_999_900.0, 16),
        ("CASE WHEN setting = 'inpatient' THEN amount ELSE 0 END", 5_000_000.0, 16),
        # the expression bounds the value, not the policy: the researcher's clamp is kept
        ("least(amount, 500)", 500.0, 0),
        ("CASE WHEN amount > 100 THEN 1 ELSE 0 END", 1.0, 0),
        ("los_days", 60.0, 0),  # a fixed clamp
    ],
)
def test_sums_of_an_auto_clamp_column_get_candidates_up_to_their_bound(ctx, expr, top, clamps):
    """STDDEV clamps each row; SUM each (person, group)'s total, up to auto_max_rows rows;
    AVG each kept (person, group)'s share, whatever bounds its rows (theirs stay)."""
    (sd,) = _plan(f"SELECT stddev({expr}) AS s FROM claims", ctx, epsilon=0.5).aggregates
    assert len(sd.clamps) == clamps and sd.upper == top and sd.group_upper is None
    if clamps:
        assert sd.clamps[-1] == sd.upper == top and list(sd.clamps) == sorted(set(sd.clamps))
        assert sd.clamps[0] > max(sd.lower or 0.0, 0.0)
    group_top = top * ctx.dataset.contribution.auto_max_rows
    (agg,) = _plan(f"SELECT sum({expr}) AS s FROM claims", ctx, epsilon=0.5).aggregates
    assert len(agg.clamps) == clamps and agg.upper == top
    if clamps:
        assert agg.clamps[-1] == agg.group_upper == group_top
        assert list(agg.clamps) == sorted(set(agg.clamps))
    else:
        assert agg.group_upper is None
    (avg,) = _plan(f"SELECT avg({expr}) AS s FROM claims", ctx, epsilon=0.5).aggregates
    assert avg.upper == top and avg.clamps[-1] == avg.group_upper == group_top


def test_an_auto_clamp_has_its_own_epsilon_piece(ctx):
    p = _plan("SELECT AVG(amount) AS m, COUNT(*) AS n FROM claims", ctx, epsilon=1.0)
    split = p.epsilon_split
    assert sum(split.values()) == pytest.approx(1.0)
    share = split["a0.clamp"] + split["a0.sum"] + split["a0.count"]
    assert split["a0.clamp"] == pytest.approx(0.2 * share)
    assert share == pytest.approx(split["a1"])


def test_unbounded_column_refused(ctx):
    with pytest.raises(QueryRejected):
        _plan("SELECT sum(length(icd10)) AS s FROM claims", ctx, epsilon=0.5)


@pytest.mark.parametrize(
    ("key", "public"),
    [
        ("p.region", "regions"),
        ("p.sex", "sexes"),
        ("c.setting", "settings"),
        ("date_trunc('week', c.visit_date)", "weeks"),
        ("DATE_TRUNC('month', c.visit_date)", "months"),
        ("substr(c.icd10, 1, 1)", "icd10_chapter_letters"),
        ("c.icd10", None),
        # derived from the public ICD-10 categories (plan.domains): named after the key
        ("substr(c.icd10, 1, 3)", "SUBSTRING(claims.icd10, 1, 3) ["),
    ],
)
def test_key_publicity(ctx, key, public):
    sql = (
        f"SELECT {key} AS k, count(*) AS n FROM claims c JOIN persons p "
        f"ON p.person_id = c.person_id GROUP BY {key}"
    )
    p = _plan(sql, ctx, epsilon=0.5)
    if public is not None and public.endswith("["):
        assert (p.keys[0].key_set or "").startswith(public)
    else:
        assert p.keys[0].key_set == public
    assert p.keys[0].alias == "k"
    assert (p.delta > 0) == (public is None)


def test_key_through_cte_is_public(ctx):
    sql = (
        "WITH flu AS (SELECT person_id, visit_date FROM claims WHERE icd10 LIKE 'J1%') "
        "SELECT date_trunc('week', visit_date) AS week, count(*) AS n FROM flu "
        "GROUP BY date_trunc('week', visit_date)"
    )
    p = _plan(sql, ctx, epsilon=0.5)
    assert p.keys[0].key_set == "weeks"
    assert "__pid" in p.relation_sql


def test_private_key_needs_delta(ctx):
    sql = "SELECT drug_code, count(*) AS n FROM prescriptions GROUP BY drug_code"
    with pytest.raises(PolicyViolation) as err:
        _plan(sql, ctx, project="pharmacy", epsilon=0.1)
    assert "δ = 0" in err.value.message and "public keys" in err.value.message


def test_epsilon_cap_and_split(ctx):
    with pytest.raises(PolicyViolation) as err:
        _plan("SELECT count(*) AS n FROM claims", ctx, epsilon=5.0)
    assert "5" in err.value.message and "at most 1" in err.value.message
    p = _plan("SELECT count(*) AS n, avg(amount) AS a FROM claims", ctx, epsilon=1.0)
    assert sum(p.epsilon_split.values()) == pytest.approx(1.0)
    assert p.epsilon_split["rows_bound"] == pytest.approx(0.1)
    assert p.epsilon_split["a1.sum"] == pytest.approx(p.epsilon_split["a1.count"])
    assert p.output_columns == (
        "n",
        "n_se",
        "n_ci_low",
        "n_ci_high",
        "a",
        "a_se",
        "a_ci_low",
        "a_ci_high",
    )


def test_default_epsilon_and_half_width(tmp_path):
    ctx = context(build(tmp_path / "w.duckdb", persons=50), tmp_path, rows_per_person=10)
    p = _plan("SELECT count(*) AS n FROM claims", ctx)
    assert p.epsilon == pytest.approx(1.0)  # min(0.1 × 10, cap 1.0)
    p = _plan("SELECT count(*) AS n FROM claims", ctx, half_width=100.0)
    from enclave.noise import half_width

    assert half_width(10 / p.epsilon, discrete=True) <= 100.0
    assert half_width(10 / (p.epsilon * 0.95), discrete=True) > 100.0
    with pytest.raises(PolicyViolation):
        _plan("SELECT count(*) AS n FROM claims", ctx, half_width=1.0)


@pytest.mark.parametrize(
    ("key", "groups", "distinct_groups"),
    [
        ("p.region", 1, 1),
        ("CASE WHEN 2024 - p.birth_year < 40 THEN 'young' ELSE 'old' END", 1, 1),
        ("c.setting", 4, 4),  # key set of 4 settings, policy g = 10
        ("c.icd10", 10, 10),  # a private key: its selection's sensitivity is min(g, c)
        # public keys and no COUNT(DISTINCT): no sensitivity depends on g, so it is as many
        # groups as the rows bound reaches (auto: up to 512) and the key set holds
        ("date_trunc('week', c.visit_date)", 105, 10),
    ],
)
def test_groups_per_person_from_keys(tmp_path, key, groups, distinct_groups):
    ctx = context(build(tmp_path / "w.duckdb", persons=20), tmp_path, groups_per_person=10)
    sql = (
        f"SELECT {key} AS k, count(*) AS n FROM claims c JOIN persons p "
        f"ON p.person_id = c.person_id GROUP BY {key}"
    )
    assert _plan(sql, ctx, epsilon=0.5).groups_per_person == groups
    distinct = sql.replace("count(*) AS n", "count(DISTINCT c.person_id) AS n")
    assert _plan(distinct, ctx, epsilon=0.5).groups_per_person == distinct_groups


def test_groups_per_person_follow_a_fixed_rows_bound(tmp_path):
    ctx = context(build(tmp_path / "w.duckdb", persons=20), tmp_path, rows_per_person=8)
    sql = "SELECT date_trunc('week', visit_date) AS k, count(*) AS n FROM claims GROUP BY 1"
    assert _plan(sql, ctx, epsilon=0.5).groups_per_person == 8  # c rows reach c groups


def test_person_key_through_cte_and_two_keys(ctx):
    sql = (
        "WITH pp AS (SELECT person_id, region, sex FROM persons) SELECT pp.region, pp.sex, "
        "count(*) AS n FROM claims c JOIN pp ON pp.person_id = c.person_id "
        "GROUP BY pp.region, pp.sex"
    )
    assert _plan(sql, ctx, epsilon=0.5).groups_per_person == 1
    mixed = (
        "SELECT p.region, c.setting, count(*) AS n FROM claims c JOIN persons p "
        "ON p.person_id = c.person_id GROUP BY p.region, c.setting"
    )
    assert _plan(mixed, ctx, epsilon=0.5).groups_per_person == 88  # 22 × 4 public cells
    distinct = mixed.replace("count(*) AS n", "count(DISTINCT c.person_id) AS n")
    assert _plan(distinct, ctx, epsilon=0.5).groups_per_person == 4


def test_distinct_only_needs_no_rows_bound(ctx):
    from enclave.gateway.plan.contribution import NO_ROWS_BOUND

    p = _plan(
        "SELECT p.region, count(DISTINCT c.person_id) AS d FROM claims c JOIN persons p "
        "ON p.person_id = c.person_id GROUP BY p.region",
        ctx,
        epsilon=0.5,
    )
    assert p.rows_per_person == NO_ROWS_BOUND and "rows_bound" not in p.epsilon_split
    assert p.epsilon_split == {"a0": pytest.approx(0.5)}
    q = _plan("SELECT count(DISTINCT person_id) AS d, count(*) AS n FROM claims", ctx, epsilon=0.5)
    assert q.rows_per_person == "auto" and "rows_bound" in q.epsilon_split


def test_default_epsilon_never_needs_a_review_nobody_asked_for(tmp_path):
    import dataclasses

    ctx = context(build(tmp_path / "w.duckdb", persons=50), tmp_path, rows_per_person=10)
    demo = dataclasses.replace(
        ctx.projects["demo"], epsilon=100.0, max_epsilon_per_query=1.0, review_epsilon=0.25
    )
    ctx = dataclasses.replace(ctx, projects={**ctx.projects, "demo": demo})
    p = _plan("SELECT count(*) AS n FROM claims", ctx)
    assert p.epsilon == pytest.approx(0.25)  # min(0.1 × 100, cap 1, review 0.25)
    assert any("review threshold" in n for n in p.notes)
