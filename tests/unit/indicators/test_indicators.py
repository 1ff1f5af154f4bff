"""Standing indicators: definitions, the scheduler's idempotency, hold and publish, and the
yearly ledger charge of user-level continual release (over a small real warehouse)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from enclave.errors import NotFound, PolicyError, UserError
from enclave.indicators import (
    Published,
    charges_of,
    indicators_of,
    load_indicators,
    periods_of,
    public_releases,
    publish,
    published_path,
    year_sql,
)
from enclave.service import Service, backfill_indicators, release_indicators
from enclave.settings import REPO_POLICIES, Settings
from enclave.store import BudgetLimits
from tests._warehouse import build

JAN = dt.date(2023, 2, 1)  # the complete weeks before it: 2, 9, 16 and 23 January 2023


def _edit(path: Path, old: str, new: str) -> None:
    body = path.read_text(encoding="utf-8")
    assert old in body, f"{old!r} not in {path.name}"
    path.write_text(body.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("ind") / "w.duckdb", persons=600, seed=5)


@pytest.fixture
def settings(tmp_path: Path, warehouse: Path) -> Settings:
    shutil.copytree(REPO_POLICIES, tmp_path / "policies")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(warehouse, home / "warehouse.duckdb")
    return Settings.from_environ(
        {"ENCLAVE_HOME": str(home), "ENCLAVE_POLICIES": str(tmp_path / "policies")}
    )


@pytest.fixture
def svc(settings: Settings):
    service = Service.open(settings)
    yield service
    service.close()


def _spent(svc: Service) -> float:
    policy = svc.project_policy("public-health")
    assert policy is not None
    return svc.store.budget("public-health", BudgetLimits.from_policy(policy)).epsilon_spent


def test_example_indicators_load() -> None:
    inds = load_indicators(REPO_POLICIES / "indicators.toml")
    assert {i.id for i in inds} == {"ili", "covid", "emergency"}
    for ind in inds:
        assert ind.project == "public-health"
        assert (ind.periods_per_year, ind.epsilon_per_year) == (2, 1.6)
        sql = year_sql(ind, year=2024, weeks=["2024-01-01", "2024-01-08"])
        assert "DATE '2024-01-01'" in sql and "DATE '2024-01-15'" in sql
        assert "period_rank <= 2" in sql and ind.qualifies in sql


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('sql = "{start}{end}"\nepsilon_per_period = 1.0', "replaced by `qualifies`"),
        ("periods_per_year = 2\nepsilon_per_year = 1.0", "needs `qualifies`"),
        ("qualifies = \"c.setting = 'x'\"\nepsilon_per_year = 1.0", "needs `periods_per_year`"),
        ("qualifies = \"c.setting = 'x'\"\nperiods_per_year = 0\nepsilon_per_year = 1", "1 to 53"),
        ("qualifies = \"c.setting = 'x'\"\nperiods_per_year = 2\nepsilon_per_year = 0", "(0, 10]"),
        ("qualifies = \"c.setting = 'x'\"\nperiods_per_year = 2\nepsilon_per_year = 11", "(0, 10]"),
        ("qualifies = \"p.region = 'x'\"\nperiods_per_year = 2\nepsilon_per_year = 1", "claim `c`"),
        (
            'qualifies = "c.person_id IN (SELECT person_id FROM persons)"\n'
            "periods_per_year = 2\nepsilon_per_year = 1",
            "found Subquery",
        ),
        (
            "qualifies = \"c.icd10 = 'x'; DROP TABLE claims\"\nperiods_per_year = 2\n"
            "epsilon_per_year = 1",
            "one condition",
        ),
        (
            "qualifies = \"c.icd10 = 'x'\"\nperiods_per_year = 2\nepsilon_per_year = 1\nk = 3",
            "unknown fields",
        ),
    ],
)
def test_indicator_definitions_are_validated(tmp_path: Path, body: str, says: str) -> None:
    bad = tmp_path / "indicators.toml"
    bad.write_text(f'[indicators.x]\ntitle = "X"\n{body}\n', encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_indicators(bad)
    assert says in err.value.message


def test_periods_are_complete_weeks_of_the_key_set(settings: Settings) -> None:
    ind = indicators_of(settings)[0]
    weeks = periods_of(settings, ind, today=dt.date(2023, 1, 20))
    assert weeks == ["2023-01-02", "2023-01-09"]
    assert len(periods_of(settings, ind, today=dt.date(2030, 1, 1))) == 105
    with pytest.raises(UserError, match="Monday"):
        release_indicators(settings, indicator="ili", period="2024-01-03")


def test_release_charges_the_year_once_and_rerun_costs_nothing(
    settings: Settings, svc: Service
) -> None:
    first = release_indicators(settings, indicator="ili", which="all", service=svc, today=JAN)
    assert first.released == 4 and first.published == 4 and first.refused == 0
    assert first.epsilon_spent == pytest.approx(1.6)  # the year's ε, not 4 weeks' worth
    assert _spent(svc) == pytest.approx(1.6)
    recs = Published(published_path(settings.home)).releases()
    assert [r.epsilon for r in recs] == [1.6, 0.0, 0.0, 0.0]  # exact, sums to the ledger
    acc = recs[1].accounting
    assert acc is not None
    assert (acc["periods_per_year"], acc["epsilon_per_year"], acc["year"]) == (2, 1.6, 2023)
    assert (acc["period_of_year"], acc["periods_remaining"], acc["periods_in_year"]) == (2, 50, 52)
    assert acc["scale"] == pytest.approx(1.25) and acc["sensitivity"] == 2
    assert [c.epsilon for c in charges_of(svc.store, "public-health", "ili", 2023)] == [1.6]
    before = [r.to_json() for r in recs]

    again = release_indicators(settings, indicator="ili", which="all", service=svc, today=JAN)
    assert again.released == 0 and again.epsilon_spent == 0 and again.skipped == 4
    one = release_indicators(settings, indicator="ili", period="2023-01-09", service=svc)
    assert one.released == 0 and one.skipped == 1
    after = [r.to_json() for r in Published(published_path(settings.home)).releases()]
    assert after == before and _spent(svc) == pytest.approx(1.6)

    later = release_indicators(settings, indicator="ili", period="2023-03-06", service=svc)
    assert later.released == 1 and later.epsilon_spent == 0  # the year is paid for
    actions = [r["action"] for r in svc.store.audit_log.export()]
    assert actions.count("indicator_release") == 5 and actions.count("publish_indicator") == 5
    assert actions.count("reserve") == 1 and actions.count("release") == 1


def test_released_rows_keep_the_public_shape(settings: Settings, svc: Service) -> None:
    release_indicators(settings, indicator="emergency", period="2023-01-09", service=svc)
    (pub,) = public_releases(settings)
    assert pub["columns"] == ["region", "value", "value_se", "value_ci_low", "value_ci_high"]
    regions = svc.dataset.key_set("regions")
    assert regions is not None
    assert [r[0] for r in pub["rows"]] == [str(v) for v in regions.values]  # every key
    for _, value, se, low, high in pub["rows"]:
        assert isinstance(value, int) and value >= 0 and low <= value <= high
        assert se == pytest.approx(1.7215, abs=1e-4)
    keys = {"indicator", "period", "status", "release_id", "epsilon", "definition"}
    assert keys <= set(pub) and pub["accounting"]["unit"] == "person"


def test_years_are_charged_separately(settings: Settings, svc: Service) -> None:
    for week in ("2023-12-25", "2024-01-01", "2024-12-30"):
        release_indicators(settings, indicator="covid", period=week, service=svc)
    assert _spent(svc) == pytest.approx(3.2)
    years = {r.period: r.accounting["year"] for r in Published(published_path(settings.home))
             .releases() if r.accounting}  # fmt: skip
    assert years == {"2023-12-25": 2023, "2024-01-01": 2024, "2024-12-30": 2024}


def test_a_changed_definition_is_charged_again(settings: Settings, svc: Service) -> None:
    release_indicators(settings, indicator="ili", period="2023-01-02", service=svc)
    _edit(settings.policies_dir / "indicators.toml", "periods_per_year = 2", "periods_per_year = 1")
    out = release_indicators(settings, indicator="ili", period="2023-01-09", service=svc)
    assert out.epsilon_spent == pytest.approx(1.6)  # a new mechanism: charged on its own
    charges = charges_of(svc.store, "public-health", "ili", 2023)
    assert [(c.n, c.periods_per_year) for c in charges] == [(1, 2), (2, 1)]
    assert _spent(svc) == pytest.approx(3.2)


def test_next_releases_one_week_per_indicator(settings: Settings, svc: Service) -> None:
    out = release_indicators(settings, service=svc, today=dt.date(2023, 3, 1))
    assert out.released == 3 and out.epsilon_spent == pytest.approx(4.8)
    assert {r.period for r in Published(published_path(settings.home)).releases()} == {"2023-01-02"}


def test_hold_then_publish(settings: Settings, svc: Service) -> None:
    release_indicators(
        settings, indicator="covid", period="2023-01-02", publish_now=False, service=svc
    )
    assert public_releases(settings) == []
    assert publish(settings, steward="steward@test").published == 1
    pub = public_releases(settings)
    assert [(r["indicator"], r["period"], r["status"]) for r in pub] == [
        ("covid", "2023-01-02", "published")
    ]
    assert publish(settings).published == 0  # nothing left to publish


def test_refusals_are_reported_and_nothing_is_kept(settings: Settings, svc: Service) -> None:
    project = settings.policies_dir / "projects" / "public-health.toml"
    _edit(project, "epsilon = 14.7\n", "epsilon = 2.0\n")  # read when svc first needs it
    out = release_indicators(settings, indicator="ili", which="all", service=svc, today=JAN)
    assert out.released == 4 and out.epsilon_spent == pytest.approx(1.6)
    nxt = release_indicators(settings, indicator="covid", which="all", service=svc, today=JAN)
    assert nxt.released == 0 and nxt.refused == 4 and nxt.epsilon_spent == 0
    error = nxt.to_json()["refusals"][0]["error"]
    assert error.startswith("BudgetExhausted") and "Requested ε=1.60" in error
    kept = Published(published_path(settings.home)).releases()
    assert {r.indicator for r in kept} == {"ili"} and _spent(svc) == pytest.approx(1.6)


def test_a_year_above_the_per_release_cap_is_refused(settings: Settings, svc: Service) -> None:
    _edit(
        settings.policies_dir / "indicators.toml",
        "epsilon_per_year = 1.6",
        "epsilon_per_year = 2.0",
    )
    out = release_indicators(settings, indicator="ili", period="2023-01-02", service=svc)
    assert out.refused == 1 and "PolicyViolation" in out.to_json()["refusals"][0]["error"]
    assert _spent(svc) == 0


def test_unknown_indicator(settings: Settings) -> None:
    with pytest.raises(NotFound, match="known indicators"):
        release_indicators(settings, indicator="nope")


@pytest.mark.slow
def test_backfill_then_a_third_year_without_a_top_up(settings: Settings, svc: Service) -> None:
    summary = backfill_indicators(settings, service=svc)
    assert summary["released"] == 315 and summary["refused"] == 0
    assert summary["epsilon_spent"] == pytest.approx(9.6)
    assert len({(r["indicator"], r["period"]) for r in public_releases(settings)}) == 315
    assert _spent(svc) == pytest.approx(9.6)
    # The next calendar year's weeks become public keys: the monitor keeps going.
    _edit(settings.policies_dir / "dataset.toml", 'end = "2024-12-30", step_days = 7',
          'end = "2025-12-29", step_days = 7')  # fmt: skip
    more = Service.open(settings)  # reads the dataset policy afresh
    try:
        third = release_indicators(settings, which="all", service=more, today=dt.date(2026, 1, 6))
        assert third.released == 3 * 52 and third.refused == 0
        assert third.epsilon_spent == pytest.approx(4.8) and _spent(more) == pytest.approx(14.4)
    finally:
        more.close()
