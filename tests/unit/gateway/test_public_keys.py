"""Public keys derived from public domains (``plan.domains``, ``plan.keys``).

A key that is a function of columns with finite public domains is public; its key set is
the image of those domains under the key, computed without data. Released keys are then
exactly that image: every cell (zeros included), none suppressed, no δ and no ε spent on
choosing keys; rows whose key is outside the image (or NULL) are dropped before bounding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enclave.errors import PolicyError, QueryRejected
from enclave.gateway.plan import derived
from enclave.gateway.plan.derived import remember
from enclave.gateway.plan.domains import MAX_DOMAIN_ROWS, Domain, column_domain, image
from enclave.gateway.plan.keys import key_combinations
from enclave.gateway.sql.rewrite import key_filters
from enclave.policy import DatasetPolicy, load_dataset_policy
from enclave.settings import REPO_POLICIES
from tests._data import add_rows
from tests._warehouse import build, context, front, run

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
BAND = (
    "CASE WHEN p.birth_year >= 2007 THEN '0-17' WHEN p.birth_year >= 1985 THEN '18-39' "
    "WHEN p.birth_year >= 1960 THEN '40-64' ELSE '65+' END"
)


@pytest.fixture(scope="module")
def ds() -> DatasetPolicy:
    return load_dataset_policy(REPO_POLICIES / "dataset.toml")


def _domain(ds: DatasetPolicy, table: str, column: str) -> Domain:
    domain = column_domain(ds.table(table), column, ds)
    assert domain is not None
    return domain


# --- the image, computed from the policy alone ------------------------------------------


def test_domains_of_the_shipped_policy(ds: DatasetPolicy) -> None:
    assert _domain(ds, "claims", "visit_date").size == 731
    assert _domain(ds, "persons", "birth_year").size == 127
    assert _domain(ds, "persons", "region").values == ds.key_set("regions").values
    codes = _domain(ds, "claims", "icd10")
    assert codes.kind == "codes" and codes.values == ds.key_set("icd10_categories").values
    for table, column in [("claims", "amount"), ("claims", "los_days"), ("claims", "claim_id")]:
        assert column_domain(ds.table(table), column, ds) is None  # no finite public domain


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CAST(year(v0) AS DOUBLE)", (2023, 2024)),
        ("CAST(quarter(v0) AS DOUBLE)", (1, 2, 3, 4)),
        ("CAST(month(v0) AS DOUBLE)", tuple(range(1, 13))),
        ("CAST(week(v0) AS DOUBLE)", tuple(range(1, 53))),  # ISO weeks of 2023-2024
        (
            "date_trunc('quarter', v0)",
            tuple(f"{y}-{m:02d}-01" for y in (2023, 2024) for m in (1, 4, 7, 10)),
        ),
        ("strftime(v0, '%Y')", ("2023", "2024")),
        ("CAST(date_diff('day', DATE '2023-01-01', v0) AS DOUBLE)", tuple(range(731))),
        (
            "v0 + INTERVAL 7 DAY",
            tuple((dt.date(2023, 1, 8) + dt.timedelta(days=i)).isoformat() for i in range(731)),
        ),
    ],
)
def test_image_of_date_keys(ds: DatasetPolicy, sql: str, expected: tuple[Any, ...]) -> None:
    assert image(sql, (_domain(ds, "claims", "visit_date"),), 10_000) == expected


def test_image_of_age_keys(ds: DatasetPolicy) -> None:
    born = _domain(ds, "persons", "birth_year")
    days = _domain(ds, "claims", "visit_date")
    decade = "FLOOR((CAST(2024 AS DOUBLE) - CAST(v0 AS DOUBLE)) / CAST(10 AS DOUBLE)) * 10"
    assert image(decade, (born,), 10_000) == tuple(range(-10, 130, 10))
    age = image("CAST(year(v0) AS DOUBLE) - CAST(v1 AS DOUBLE)", (days, born), 10_000)
    assert age == tuple(range(2023 - 2026, 2024 - 1900 + 1))
    band = BAND.replace("p.birth_year", "v0")
    assert image(band, (born,), 10_000) == ("0-17", "18-39", "40-64", "65+")


def test_image_of_code_categories(ds: DatasetPolicy) -> None:
    codes = (_domain(ds, "claims", "icd10"),)
    categories = ds.key_set("icd10_categories").values
    assert image("substr(v0, 1, 3)", codes, 10_000) == categories
    assert image("left(v0, 1)", codes, 10_000) == tuple(sorted({c[0] for c in categories}))
    flag = "CASE WHEN v0 LIKE 'E11%' THEN 'diabetes' ELSE 'other' END"
    assert image(flag, codes, 10_000) == ("diabetes", "other")
    # keys that depend on more than the category stay private
    for sql in ("v0", "substr(v0, 1, 4)", "length(v0)", "CASE WHEN v0 = 'E11.9' THEN 1 END"):
        assert image(sql, codes, 10_000) is None, sql


def test_null_is_never_a_public_value(ds: DatasetPolicy) -> None:
    born = (_domain(ds, "persons", "birth_year"),)
    assert image("CASE WHEN v0 < 1960 THEN 'old' END", born, 10_000) == ("old",)
    assert image("CASE WHEN v0 > 3000 THEN 'never' END", born, 10_000) is None  # empty
    # a value that fails becomes NULL (as TRY does in the engine), never an error
    assert image("TRY(CAST(CAST(v0 AS VARCHAR) || 'x' AS INTEGER))", born, 10_000) is None


@pytest.mark.parametrize(
    "sql",
    [
        "CAST(v0 AS DOUBLE) / 10",  # not whole numbers
        "v0 < 1960",  # a condition: released as a flag only through CASE
        "CAST(v0 AS DOUBLE) * 1e300 * 1e300",  # infinite
    ],
)
def test_images_that_stay_private(ds: DatasetPolicy, sql: str) -> None:
    assert image(sql, (_domain(ds, "persons", "birth_year"),), 10_000) is None


def test_caps_on_the_domain_product_and_the_image(ds: DatasetPolicy) -> None:
    days, born = _domain(ds, "claims", "visit_date"), _domain(ds, "persons", "birth_year")
    assert days.size * days.size * born.size > MAX_DOMAIN_ROWS
    assert image("CAST(v2 AS VARCHAR)", (days, days, born), 10_000) is None
    assert image("v0", (days,), 730) is None  # 731 days > max_keys
    assert len(image("v0", (days,), 731) or ()) == 731


# --- the plan: which keys are public, and under which name --------------------------------


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("public-keys")
    path = build(home / "w.duckdb", persons=300)
    outside = [("out0", 1850, "F", "Taipei", "employee"), ("out1", 2030, "M", "Taipei", "farmer")]
    claims = [("xc0", "out0", "p0", dt.date(2022, 6, 1), "outpatient", "E11.9", 10.0, 0)]
    add_rows(path, {"persons": outside, "claims": claims})  # values outside the domains
    ctx = context(path, home)
    projects = {n: dataclasses.replace(p, delta=0.5) for n, p in ctx.projects.items()}
    yield dataclasses.replace(ctx, projects=projects)
    ctx.engine.close()


def _plan(sql: str, ctx: Any) -> Any:
    from enclave.gateway.plan.planner import plan

    return plan(front(sql, ctx, epsilon=0.5), ctx).plan


@pytest.mark.parametrize(
    ("key", "name", "size"),
    [
        ("year(c.visit_date)", "YEAR(claims.visit_date) [", 2),
        ("year(c.visit_date) - p.birth_year", "YEAR(claims.visit_date) - persons.birth_year [", 128),
        ("FLOOR((2024 - p.birth_year) / 10) * 10", "FLOOR((2024 - persons.birth_year) / 10) * 10 [", 14),
        (BAND, "CASE WHEN persons.birth_year >= 2007 THEN '0-17'", 4),
        ("p.birth_year", "persons.birth_year [", 127),
        ("c.visit_date", "claims.visit_date [", 731),
        ("substr(c.icd10, 1, 3)", "SUBSTRING(claims.icd10, 1, 3) [", 293),
        ("date_trunc('week', c.visit_date)", "weeks", 105),  # declared first
        ("substr(c.icd10, 1, 1)", "icd10_chapter_letters", 26),  # declared first
    ],
)  # fmt: skip
def test_public_key_sets_of_the_plan(ctx: Any, key: str, name: str, size: int) -> None:
    p = _plan(f"SELECT {key} AS k, COUNT(*) AS n {J} GROUP BY 1", ctx)
    (k,) = p.keys
    assert k.key_set is not None and k.key_set.startswith(name)
    assert len(ctx.dataset.key_set(k.key_set).values) == size
    assert p.delta == 0.0 and "key_selection" not in p.epsilon_split


@pytest.mark.parametrize(
    "key",
    ["c.icd10", "c.amount", "p.birth_year / 10", "CASE WHEN c.amount > 100 THEN 'high' END"],
)
def test_keys_without_a_public_domain_stay_private(ctx: Any, key: str) -> None:
    p = _plan(f"SELECT {key} AS k, COUNT(*) AS n {J} GROUP BY 1", ctx)
    assert p.keys[0].key_set is None and p.delta > 0


def test_too_many_public_combinations_make_the_derived_key_private(ctx: Any) -> None:
    p = _plan(f"SELECT c.visit_date AS d, p.region, COUNT(*) AS n {J} GROUP BY 1, 2", ctx)
    assert [k.key_set for k in p.keys] == [None, "regions"]  # 731 x 22 > 10,000
    p = _plan(f"SELECT c.visit_date AS d, p.sex, COUNT(*) AS n {J} GROUP BY 1, 2", ctx)
    assert p.keys[0].key_set is not None and p.keys[1].key_set == "sexes"  # 731 x 2
    assert key_combinations([k.key_set for k in p.keys], ctx.dataset, unknown=1) == 1462


@pytest.mark.parametrize(
    ("key", "where", "values"),
    [
        ("year(c.visit_date) - p.birth_year", "year(c.visit_date) - p.birth_year BETWEEN 60 AND 65",
         tuple(range(60, 66))),
        ("year(c.visit_date)", "c.visit_date >= DATE '2024-01-01' AND c.setting = 'inpatient'",
         (2024,)),
        ("left(c.icd10, 1)", "c.icd10 LIKE 'E11%' OR c.icd10 LIKE 'I10%'", ("E", "I")),
        ("p.birth_year", "p.birth_year >= 2020 AND c.amount > 5", tuple(range(2020, 2027))),
        ("year(c.visit_date)", "c.amount > 5", (2023, 2024)),  # another column: no restriction
    ],
)  # fmt: skip
def test_where_restricts_the_image(ctx: Any, key: str, where: str, values: tuple) -> None:
    p = _plan(f"SELECT {key} AS k, COUNT(*) AS n {J} WHERE {where} GROUP BY 1", ctx)
    assert ctx.dataset.key_set(p.keys[0].key_set).values == values


def test_cohort_filters_do_not_restrict_the_image(ctx: Any) -> None:
    sql = (
        f"SELECT year(c.visit_date) AS y, COUNT(*) AS n {J} WHERE c.person_id IN "
        "(SELECT person_id FROM claims WHERE icd10 LIKE 'E11%') GROUP BY 1"
    )
    p = _plan(sql, ctx)
    assert ctx.dataset.key_set(p.keys[0].key_set).values == (2023, 2024)


def test_key_filter_holds_the_image(ctx: Any) -> None:
    p = _plan(f"SELECT {BAND} AS band, COUNT(*) AS n {J} GROUP BY 1", ctx)
    (only,) = key_filters(p, ctx.dataset)
    assert only.endswith("IN ('0-17', '18-39', '40-64', '65+')")


def test_derived_sets_are_shared_with_replaced_policies(ctx: Any) -> None:
    copy = dataclasses.replace(ctx.dataset, name="copy")
    assert copy.derived_key_sets is ctx.dataset.derived_key_sets
    assert copy == dataclasses.replace(copy, derived_key_sets={})  # not part of equality


# --- released keys equal the image ---------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT {BAND} AS band, COUNT(*) AS n FROM persons p GROUP BY 1",
        f"SELECT p.region, {BAND} AS band, COUNT(DISTINCT c.person_id) AS n {J} "
        "WHERE c.icd10 LIKE 'E11%' GROUP BY 1, 2",
        f"SELECT year(c.visit_date) - p.birth_year AS age, COUNT(*) AS n {J} GROUP BY 1",
        "SELECT date_trunc('quarter', visit_date) AS q, setting, SUM(amount) AS s "
        "FROM claims GROUP BY 1, 2",
    ],
)
def test_released_keys_are_the_image(ctx: Any, sql: str) -> None:
    import itertools

    state = run(front(sql, ctx, epsilon=0.5), ctx)
    release, plan = state.release, state.plan
    sets = [ctx.dataset.key_set(k.key_set).values for k in plan.keys]
    keys = [tuple(row[: len(plan.keys)]) for row in release.rows]
    assert keys == list(itertools.product(*sets))  # every cell, in key-set order
    assert "key_selection" not in plan.epsilon_split and plan.delta == 0.0


def test_rows_outside_the_image_are_dropped(ctx: Any) -> None:
    """The persons born in 1850 and 2030 fall outside birth_year's domain: no key of theirs
    is released and their rows are filtered out before bounding (exact totals: 300)."""
    state = run(front("SELECT p.birth_year, COUNT(*) AS n FROM persons p GROUP BY 1", ctx), ctx)
    assert [row[0] for row in state.release.rows] == list(range(1900, 2027))
    column = state.exact.columns.index("__k0")
    assert all(1900 <= row[column] <= 2026 for row in state.exact.rows)


# --- the memo the later stages read ---------------------------------------------------------


def test_memo_keeps_recent_sets_and_drops_stale_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    monkeypatch.setattr(derived, "MEMO_ENTRIES", 2)
    assert remember(ds, "a", (1,), now=0.0) is not None
    assert remember(ds, "b", (2,), now=1.0) is not None
    assert remember(ds, "c", (3,), now=2.0) is None  # both fresh: no room, "c" stays private
    assert remember(ds, "b", (2,), now=4000.0) is not None  # used again: fresh
    assert remember(ds, "c", (3,), now=4001.0) is not None  # "a" is stale and dropped
    assert ds.key_set("a") is None and ds.key_set("b") is not None
    assert ds.key_set("c").values == (3,)  # type: ignore[union-attr]


# --- the policy fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ('{ role = "code", integer = true }', "integer = true"),
        ('{ role = "numeric", lower = 0, upper = 1.5, integer = true }', "integer = true"),
        ('{ role = "numeric", lower = 0, upper = 9, public_codes = "codes" }', "public_codes"),
        ('{ role = "code", public_codes = "nowhere" }', "unknown key set"),
    ],
)
def test_policy_fields_are_checked(tmp_path: Path, column: str, message: str) -> None:
    text = (
        '[tables.t]\nprotected = true\nperson_column = "pid"\n'
        'columns.pid = { role = "identifier" }\n'
        f'columns.x = {column}\n[key_sets]\ncodes = ["A00"]\n'
    )
    path = tmp_path / "dataset.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_dataset_policy(path)


# --- enclave schema lists them ---------------------------------------------------------------


def test_enclave_schema_lists_the_public_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from enclave.cli import app

    monkeypatch.setenv("ENCLAVE_POLICIES", str(REPO_POLICIES))
    done = CliRunner().invoke(app, ["schema", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    keys = {k["expression"]: k["keys"] for k in data["public_keys"]}
    assert keys["year(claims.visit_date)"] == 2
    assert keys["quarter(claims.visit_date)"] == 4
    assert keys["year(claims.visit_date) - persons.birth_year"] == 128
    assert keys["substr(claims.icd10, 1, 3)"] == 293
    assert keys["claims: date_trunc('week', visit_date)"] == 105
    assert any(k.startswith("CASE WHEN persons.birth_year >= 2007") for k in keys)
    persons = next(t for t in data["tables"] if t["table"] == "persons")
    domains = {c["column"]: c["public_domain"] for c in persons["columns"]}
    assert domains == {
        "person_id": None,
        "birth_year": "1900..2026",
        "sex": "sexes (2)",
        "region": "regions (22)",
        "insurance_category": "insurance_categories (6)",
    }
    text = CliRunner().invoke(app, ["schema"])
    assert text.exit_code == 0 and "Public group keys" in text.output


@pytest.mark.parametrize("days", [(0, 10), (1, 3_652_060), (-5, -1)])
def test_a_day_domain_outside_the_calendar_is_refused_not_an_internal_error(
    days: tuple[int, int],
) -> None:
    domain = Domain("days", "DATE", lower=days[0], upper=days[1])
    with pytest.raises(QueryRejected):
        domain.rows_sql("v")
    with pytest.raises(QueryRejected):
        domain.describe()
