"""A small, complete enclave for the dashboard tests: ingested warehouse, accounts,
published ILI weeks through a flu season, a held release and a pending application.

Built once per test session per process (it takes a few seconds) under a temporary
ENCLAVE_HOME with a copy of the example policies plus a tiny-budget project.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from enclave.settings import REPO_POLICIES, Settings
from tests._policies import write_project

#: Weeks of ILI published in the test enclave: summer through the 2023/24 season's peak.
FIRST_WEEK = dt.date(2023, 7, 3)
WEEKS = 28


@dataclass(frozen=True)
class Env:
    home: Path
    policies: Path
    settings: Settings
    researcher_token: str
    steward_token: str
    spare_token: str

    def environ(self) -> dict[str, str]:
        return {"ENCLAVE_HOME": str(self.home), "ENCLAVE_POLICIES": str(self.policies)}


def weeks() -> list[str]:
    return [(FIRST_WEEK + dt.timedelta(days=7 * i)).isoformat() for i in range(WEEKS)]


def build(root: Path, persons: int = 20000) -> Env:
    from enclave.service import Service, release_indicators
    from tests._data import ingested_home

    home, policies = root / "home", root / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    write_project(
        policies,
        "tiny",
        title="Tiny budget (tests)",
        members=("researcher@demo",),
        epsilon=0.3,
        per_query=0.3,
        tables=("persons", "claims"),
    )
    settings = Settings.from_environ({"ENCLAVE_HOME": str(home), "ENCLAVE_POLICIES": str(policies)})
    manifest = ingested_home(settings, persons, seed=3, extract=root / "extract")

    svc = Service.open(settings)
    try:
        store = svc.store
        store.audit_log.record_manifest(manifest.to_dict())  # as `enclave ingest` and the demo do
        store.accounts.add_user("steward@test", "steward")
        store.accounts.add_user("researcher@demo", "researcher")
        store.accounts.add_user("spare@test", "researcher")
        steward = store.accounts.issue_token("steward@test")
        researcher = store.accounts.issue_token("researcher@demo")
        spare = store.accounts.issue_token("researcher@demo")
        for pid in ("flu-study", "cost-study"):
            store.projects.apply(
                pid,
                title=pid.replace("-", " ").capitalize(),
                purpose="tests",
                tables=("claims", "persons"),
                requested_epsilon=2.0,
                applicant="spare@test",
            )
        for week in weeks():
            release_indicators(settings, indicator="ili", period=week, service=svc)
        release_indicators(
            settings, indicator="covid", period=weeks()[0], publish_now=False, service=svc
        )
    finally:
        svc.close()
    return Env(home, policies, settings, researcher, steward, spare)
