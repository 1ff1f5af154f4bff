"""The end-to-end demo: synthetic extract → ingest → accounts → indicators (and their
denominators) → services.

``run_demo`` does the set-up and returns what a user needs (project, token, URLs);
``serve`` then starts the API and the dashboards as child processes.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from enclave.home import LOCAL_ADMIN
from enclave.settings import Settings

__all__ = [
    "DEMO_PROJECT",
    "DEMO_RESEARCHER",
    "DEMO_STEWARD",
    "DemoResult",
    "release_denominators",
    "run_demo",
    "serve",
]

DEMO_PROJECT = "demo"
DEMO_RESEARCHER = "researcher@demo"
DEMO_STEWARD = "steward@enclave"


@dataclass(frozen=True)
class DemoResult:
    project: str
    token: str
    steward_token: str
    api_url: str
    dashboard_url: str
    manifest: dict[str, Any] = field(repr=False)
    indicators: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """What ``enclave demo --json`` prints (not the manifest, nor the indicators)."""
        names = ("project", "token", "steward_token", "api_url", "dashboard_url")
        return {name: getattr(self, name) for name in names}


#: Demo tokens expire: a demo left running does not hand out keys for ever.
DEMO_TOKEN_LIFETIME = dt.timedelta(days=30)


def _ensure_user(store: Any, user: str, role: str) -> None:
    if store.accounts.user(user) is None:
        store.accounts.add_user(user, role, actor="demo")


def run_demo(
    settings: Settings,
    *,
    persons: int = 20_000,
    seed: int = 7,
    api_port: int = 8000,
    dashboard_port: int = 8501,
    progress: bool = False,
    indicators: bool = True,
) -> DemoResult:
    """Set up a complete enclave under ``settings.home`` (idempotent: safe to re-run)."""
    from enclave.service import load_extract
    from enclave.store import open_store
    from pseudonymize.synth import generate

    settings.ensure_home()
    extract = settings.home / "extract"
    if not (extract / "extract.json").is_file():
        generate(extract, persons=persons, seed=seed)
    spark = settings.engine == "spark"
    manifest_json = load_extract(settings, extract, "nhi", parquet=spark, progress=progress)
    with open_store(settings) as store:
        _ensure_user(store, DEMO_STEWARD, "steward")
        _ensure_user(store, LOCAL_ADMIN, "steward")
        _ensure_user(store, DEMO_RESEARCHER, "researcher")
        token = store.accounts.issue_token(DEMO_RESEARCHER, DEMO_TOKEN_LIFETIME, actor="demo")
        steward_token = store.accounts.issue_token(DEMO_STEWARD, DEMO_TOKEN_LIFETIME, actor="demo")
    summary = None
    if indicators:
        from enclave.service import backfill_indicators

        summary = backfill_indicators(settings)
        summary["denominators"] = release_denominators(settings)
    return DemoResult(
        project=DEMO_PROJECT,
        token=token,
        steward_token=steward_token,
        api_url=f"http://127.0.0.1:{api_port}",
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        manifest=manifest_json,
        indicators=summary,
    )


def release_denominators(settings: Settings) -> dict[str, Any]:
    """Release the indicators' denominators (persons per region and per age band) once;
    a second call costs and changes nothing."""
    from enclave.indicators import indicators_of
    from enclave.indicators._denominators import release_denominators as release
    from enclave.service import Service

    inds = indicators_of(settings)
    if not inds:
        return {"released": False, "releases": [], "epsilon_spent": 0.0}
    svc = Service.open(settings)
    try:
        return release(svc, settings, inds[0])
    finally:
        svc.close()


def serve(settings: Settings, result: DemoResult) -> list[subprocess.Popen[bytes]]:
    """Start the API and the dashboards as child processes (same ENCLAVE_HOME)."""
    import os

    env = {**os.environ, "ENCLAVE_HOME": str(settings.home), "ENCLAVE_ENGINE": settings.engine}
    exe = [sys.executable, "-m", "enclave"]
    api_port = result.api_url.rsplit(":", 1)[1]
    dash_port = result.dashboard_url.rsplit(":", 1)[1]
    procs = [
        subprocess.Popen([*exe, "serve", "--port", api_port], env=env),  # noqa: S603
        subprocess.Popen([*exe, "dashboards", "--port", dash_port], env=env),  # noqa: S603
    ]
    time.sleep(0.5)
    return procs


def wait_forever(procs: list[subprocess.Popen[bytes]]) -> None:
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


def client_snippet(result: DemoResult) -> str:
    return (
        "from enclave import Client\n"
        f'c = Client("{result.api_url}", "{result.token}")\n'
        'c.query("SELECT region, COUNT(*) AS claims FROM claims JOIN persons '
        'ON claims.person_id = persons.person_id GROUP BY region", epsilon=0.5)'
    )


def print_summary(result: DemoResult, console: Any) -> None:
    files: dict[str, Any] = result.manifest.get("files", {})
    console.print("[bold]Ingest manifest[/bold] (rows read / loaded / quarantined)")
    for name, f in files.items():
        console.print(
            f"  {name}: {f.get('rows_read')} / {f.get('rows_loaded')} / {f.get('rows_quarantined')}"
        )
    console.print(
        f"[bold]Project[/bold] {result.project}   [bold]researcher token[/bold] {result.token}"
    )
    console.print(f"[bold]Steward token[/bold] {result.steward_token}")
    console.print(f"[bold]API[/bold] {result.api_url}  (OpenAPI: {result.api_url}/docs)")
    console.print(f"[bold]Dashboards[/bold] {result.dashboard_url}")
    console.print("[bold]Try[/bold]:\n" + client_snippet(result))
