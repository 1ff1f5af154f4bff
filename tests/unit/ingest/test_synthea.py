"""The shared Synthea export ingests with counts derived independently from its CSVs."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from enclave.schema import TABLES
from enclave.settings import Settings
from pseudonymize.adapters.synthea import SETTING_OF_CLASS
from pseudonymize.ingest import ingest
from tests._paths import ROOT


def _find_synthea() -> Path:
    """The shared Synthea export: $ENCLAVE_SYNTHEA_DIR, else ../shared/data next to the
    checkout, else the workspace's shared folder."""
    name = Path("shared") / "data" / "synthea-nebraska-111"
    candidates = [
        *(
            [Path(os.environ["ENCLAVE_SYNTHEA_DIR"])]
            if os.environ.get("ENCLAVE_SYNTHEA_DIR")
            else []
        ),
        ROOT.parent / name,
        Path("/work") / name,
    ]
    return next((c for c in candidates if (c / "patients.csv").is_file()), candidates[0])


SYNTHEA = _find_synthea()
pytestmark = pytest.mark.skipif(not SYNTHEA.is_dir(), reason="Synthea export not present")

#: Columns whose values identify a person (or link to one outside the enclave).
_IDENTIFYING = {
    "patients.csv": ("Id", "SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "MAIDEN", "ADDRESS"),
    "encounters.csv": ("Id", "PATIENT"),
    "providers.csv": ("Id", "NAME", "ADDRESS"),
    "payer_transitions.csv": ("MEMBERID",),
}


def _rows(name: str) -> list[dict[str, str]]:
    with (SYNTHEA / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _identifiers() -> list[str]:
    values = set()
    for name, cols in _IDENTIFYING.items():
        for row in _rows(name):
            values |= {row[c] for c in cols if len(row.get(c) or "") >= 4}
    return sorted(values)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    home = tmp_path_factory.mktemp("synthea")
    s = Settings(home=home, master_key_hex=bytes(range(32)).hex())
    return s, ingest(SYNTHEA, "synthea", s)


def test_counts_match_the_csv_files(result):
    _, m = result
    expected = {
        "persons": len(_rows("patients.csv")),
        "providers": len(_rows("providers.csv")),
        "claims": len(_rows("encounters.csv")),
        "diagnoses": len(_rows("conditions.csv")),
        "prescriptions": len(_rows("medications.csv")),
    }
    assert m.tables == expected
    for f in m.files:
        assert f.rows_read == len(_rows(f.name))
        if f.role != "counted_only":
            assert f.rows_read == f.rows_loaded + f.rows_quarantined


def test_settings_follow_the_encounter_class_map(result):
    s, _ = result
    expected = Counter(SETTING_OF_CLASS[r["ENCOUNTERCLASS"]] for r in _rows("encounters.csv"))
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        got = dict(con.execute("SELECT setting, count(*) FROM claims GROUP BY 1").fetchall())
        systems = {
            r[0] for r in con.execute("SELECT DISTINCT code_system FROM diagnoses").fetchall()
        }
        rx = {
            r[0] for r in con.execute("SELECT DISTINCT code_system FROM prescriptions").fetchall()
        }
        orphans = con.execute(
            "SELECT count(*) FROM claims WHERE person_id NOT IN (SELECT person_id FROM persons)"
        ).fetchone()[0]
    assert got == dict(expected)
    assert systems == {"SNOMED-CT"} and rx == {"RxNorm"} and orphans == 0


def test_no_synthea_identifier_in_outputs(result):
    s, m = result
    identifiers = _identifiers()
    assert len(identifiers) > 500
    files = [s.warehouse_path, s.home / "manifests" / f"{m.ingest_id}.json"]
    files += list(s.quarantine_dir.glob("*.parquet")) if s.quarantine_dir.exists() else []
    blob = b"".join(p.read_bytes() for p in files)
    assert sum(1 for v in identifiers if v.encode() in blob) == 0
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        stored = set()
        for table, cols in TABLES.items():
            for col, typ in cols:
                if typ == "VARCHAR":
                    stored |= {
                        r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM {table}").fetchall()
                    }
    assert not (stored & set(identifiers))
