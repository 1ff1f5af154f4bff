"""``enclave ingest`` and ``enclave key`` through the real entry point, and kill -9 safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests._paths import ROOT
from tests.ingest_fake import Fake, write_extract

ENCLAVE = ROOT / ".venv" / "bin" / "enclave"


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENCLAVE_HOME": str(home)}
    env.pop("ENCLAVE_MASTER_KEY", None)
    if not home.exists():  # `enclave init` first, as the README says
        subprocess.run([str(ENCLAVE), "init"], env=env, check=True, capture_output=True)
    return subprocess.run(
        [str(ENCLAVE), *args], env=env, capture_output=True, text=True, timeout=120
    )


def _claims(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM claims").fetchone()[0]


def _ingest_json(tmp_path: Path) -> tuple[Path, Fake, subprocess.CompletedProcess[str], dict]:
    """A fake extract ingested into a new home with ``--json``: home, extract, run, manifest."""
    fake = write_extract(tmp_path / "e1")
    home = tmp_path / "home"
    done = _run(home, "ingest", str(fake.path), "--format", "nhi", "--json")
    assert done.returncode == 0, done.stderr[-500:]
    return home, fake, done, json.loads(done.stdout)


def test_ingest_json_manifest_and_key_verbs(tmp_path):
    home, fake, done, manifest = _ingest_json(tmp_path)
    for f in manifest["files"].values():
        assert f["rows_read"] == f["rows_loaded"] + f["rows_quarantined"]
    assert (home / "manifests" / f"{manifest['ingest_id']}.json").is_file()
    assert sum(1 for v in fake.identifiers if v in done.stdout + done.stderr) == 0
    shown = _run(home, "key", "show", "--json")
    assert json.loads(shown.stdout)["key_id"] == manifest["key_id"]
    assert (home / "master.key").read_text().strip() not in shown.stdout
    rotated = _run(home, "key", "rotate", "--json")
    assert rotated.returncode == 0, rotated.stderr[-500:]
    assert json.loads(rotated.stdout)["new_key_id"] != manifest["key_id"]
    assert _claims(home / "warehouse.duckdb") == manifest["tables"]["claims"]


def test_ingest_records_its_manifest_in_the_metadata_store(tmp_path):
    from enclave.settings import Settings
    from enclave.store import open_store

    home, _, _, manifest = _ingest_json(tmp_path)
    with open_store(Settings(home=home)) as store:
        stored = store.audit_log.manifests()
        audit_ok = store.audit_log.verify().ok
    assert [m["ingest_id"] for m in stored] == [manifest["ingest_id"]]
    assert stored[0]["files"] == manifest["files"] and stored[0]["key_id"] == manifest["key_id"]
    assert audit_ok


def _bad_case(case: str, tmp_path: Path) -> list[str]:
    fake = write_extract(tmp_path / "e")
    args = ["ingest", str(fake.path), "--format", "nhi"]
    if case == "missing_source":
        args[1] = str(tmp_path / "nope")
    elif case == "missing_file":
        (fake.path / "providers.csv").unlink()
    elif case == "wrong_format":
        args[3] = "synthea"
    elif case == "unknown_format":
        args[3] = "parquet"
    elif case == "unreadable_key":
        key = tmp_path / "key"
        key.write_text("not a key")
        key.chmod(0o600)
        args += ["--key-file", str(key)]
    elif case == "warehouse_is_dir":
        (tmp_path / "wh").mkdir()
        args += ["--warehouse", str(tmp_path / "wh")]
    elif case == "zero_valid_rows":
        lines = (fake.path / "claims.csv").read_text().splitlines()
        (fake.path / "claims.csv").write_text(
            lines[0] + "\n" + "\n".join(x + ",1" for x in lines[1:]) + "\n"
        )
    elif case == "not_csv":
        (fake.path / "persons.csv").write_bytes(b"\xff\xfe\x00garbage")
    return args


@pytest.mark.parametrize(
    "case",
    [
        "missing_source",
        "missing_file",
        "wrong_format",
        "unknown_format",
        "unreadable_key",
        "warehouse_is_dir",
        "zero_valid_rows",
        "not_csv",
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(tmp_path, case):
    home = tmp_path / "home"
    first = write_extract(tmp_path / "first")
    assert _run(home, "ingest", str(first.path), "--format", "nhi").returncode == 0
    before = (home / "warehouse.duckdb").read_bytes()
    manifests = sorted((home / "manifests").iterdir())
    done = _run(home, *_bad_case(case, tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error (IngestError)")
    assert (home / "warehouse.duckdb").read_bytes() == before
    assert sorted((home / "manifests").iterdir()) == manifests


_PAUSED_INGEST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pseudonymize.load as load
    from enclave.settings import Settings
    from pseudonymize.ingest import ingest

    def paused(path):  # the new warehouse is complete but not yet swapped in
        print("READY", flush=True)
        time.sleep(120)

    load._fsync = paused
    ingest(Path(sys.argv[1]), "nhi", Settings.from_environ())
    """
)


@pytest.mark.slow
def test_killed_ingest_leaves_old_warehouse_intact(tmp_path):
    home = tmp_path / "home"
    first = write_extract(tmp_path / "e1")
    assert _run(home, "ingest", str(first.path), "--format", "nhi").returncode == 0
    wh = home / "warehouse.duckdb"
    old = _claims(wh)
    second = write_extract(tmp_path / "e2", extract_no=2, persons=300)
    env = {**os.environ, "ENCLAVE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_INGEST, str(second.path)],
        env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        assert list(home.glob(".warehouse.duckdb.ingest-*"))  # the half-made load exists
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert _claims(wh) == old
    time.sleep(0.1)
    done = _run(home, "ingest", str(second.path), "--format", "nhi", "--json")
    assert done.returncode == 0, done.stderr[-500:]
    assert not list(home.glob(".warehouse.duckdb.ingest-*"))
    assert _claims(wh) > old
