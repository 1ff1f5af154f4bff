"""The public monitor page in AppTest: one indicator at a time (map, table and series),
a week picked by date, the series with band, expected and threshold, plain sentences, the
flu season's alerts, a provisional week marked, count or rate; and the page with nothing
published. (The first three tests moved here from test_dashboards.py.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from enclave.settings import REPO_POLICIES, Settings
from tests._dashboards_env import Env, build, weeks
from tests._paths import ROOT

pytestmark = pytest.mark.slow

PAGE = ROOT / "dashboards" / "views" / "monitor.py"
OUTBREAK = "New Taipei:2024-01-08:3:6"


def monitor_home(root: Path) -> Settings:
    """A small enclave with every week of the three indicators published, an injected ILI
    outbreak in New Taipei from 2024-01-08, and the persons per region released."""
    import shutil

    from enclave.indicators import indicators_of
    from enclave.indicators._denominators import release_denominators
    from enclave.service import Service, backfill_indicators
    from enclave.store import open_store
    from pseudonymize.ingest import ingest
    from pseudonymize.synth import Outbreak, generate

    policies = root / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    settings = Settings.from_environ(
        {"ENCLAVE_HOME": str(root / "home"), "ENCLAVE_POLICIES": str(policies)}
    )
    generate(root / "x", 3000, seed=2, outbreaks=(Outbreak.parse(OUTBREAK),))
    manifest = ingest(root / "x", "nhi", settings)
    with open_store(settings) as store:
        store.audit_log.record_manifest(manifest.to_dict())
    backfill_indicators(settings)
    svc = Service.open(settings)
    try:
        release_denominators(svc, settings, indicators_of(settings)[0])
    finally:
        svc.close()
    return settings


def _page(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> AppTest:
    monkeypatch.setenv("ENCLAVE_HOME", str(settings.home))
    monkeypatch.setenv("ENCLAVE_POLICIES", str(settings.policies_dir))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    return AppTest.from_file(str(PAGE), default_timeout=120)


def _no_trace(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for msg in at.error:
        assert "Traceback" not in msg.value


def _alerts_table(at: AppTest):
    """The week's alert table (the one with a Region column), or None."""
    return next((d.value for d in at.dataframe if "Region" in d.value.columns), None)


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [i.value for i in at.info]
    return " ".join(parts + [w.value for w in at.warning] + [c.value for c in at.caption])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return build(tmp_path_factory.mktemp("dash-monitor"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return monitor_home(tmp_path_factory.mktemp("monitor-page"))


def test_monitor_shows_series_tiles_and_flu_alerts(env: Env, monkeypatch) -> None:
    at = _page(monkeypatch, env.settings).run()
    _no_trace(at)
    assert at.title[0].value == "Public-health monitor"
    assert len(at.get("vega_lite_chart")) == 3  # weeks with alerts, region map, series
    assert "How to read this" in [e.label for e in at.expander]
    seen_alert = False
    for peak in ("2023-12-18", "2023-12-25", "2024-01-01", "2024-01-08"):
        at.date_input(key="week").set_value(dt.date.fromisoformat(peak)).run()
        _no_trace(at)
        table = _alerts_table(at)
        if table is None:
            continue
        assert list(table.columns) == ["Region", "Level", "Value", "Expected", "By chance"]
        assert list(table["Level"]) == sorted(table["Level"])  # alerts before warnings
        seen_alert |= bool((table["Level"] == "alert").any())
    assert seen_alert


def test_monitor_quiet_week_says_so(env: Env, monkeypatch) -> None:
    at = _page(monkeypatch, env.settings).run()
    at.date_input(key="week").set_value(dt.date.fromisoformat(weeks()[8])).run()
    _no_trace(at)
    assert _alerts_table(at) is not None or "No region has a warning" in _text(at)


def test_monitor_without_releases_explains(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path))
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    _no_trace(at)
    assert any("No indicator has been published yet" in t.value for t in at.info)


def test_the_outbreak_week_reads_plainly(home: Settings, monkeypatch) -> None:
    at = _page(monkeypatch, home)
    at.query_params.update(indicator="ili", week="2024-01-10", region="New Taipei")
    at.run()
    _no_trace(at)
    table = _alerts_table(at)
    assert table is not None
    assert "New Taipei" in list(table["Region"][table["Level"] == "alert"])
    text = _text(at)
    assert "New Taipei, week 08 Jan 2024 – 14 Jan 2024." in text  # any day picks its week
    assert "Who is counted: persons by age" in [e.label for e in at.expander]
    ages = next(d.value for d in at.dataframe if "Age" in d.value.columns)
    assert list(ages["Age"]) == [f"{a}–{a + 9}" for a in range(0, 90, 10)] + ["90+"]
    assert abs(ages["Persons"].sum() - 3000) < 200  # the released persons, with their noise
    assert "More patients than expected:" in text and "happens by chance" in text
    at.radio(key="measure").set_value("rate").run()
    _no_trace(at)
    specs = " ".join(c.proto.spec for c in at.get("vega_lite_chart"))
    assert "(per 100,000)" in specs  # the series now shows rates
    assert at.metric[0].value == str(sum(table["Level"] == "alert"))


def test_a_provisional_week_is_marked(home: Settings, monkeypatch) -> None:
    at = _page(monkeypatch, home)
    at.query_params.update(indicator="emergency", week="2024-12-31")
    at.run()
    _no_trace(at)
    text = _text(at)
    assert "is provisional" in text and "not judged" in text
    assert _alerts_table(at) is None  # nothing is flagged in a provisional week
    # By default the page opens on the latest complete week, not the provisional one.
    at2 = _page(monkeypatch, home).run()
    assert at2.date_input(key="week").value == dt.date(2024, 12, 23)
