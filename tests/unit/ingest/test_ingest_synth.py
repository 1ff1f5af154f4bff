"""Ingest of generated NHI-style extracts: quarantine equals the generator's truth."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest

from enclave.settings import Settings
from pseudonymize.ingest import ingest
from pseudonymize.quarantine import read_quarantine

synth = pytest.importorskip("pseudonymize.synth")


def _injected(source: Path) -> set[tuple[str, int, str]]:
    with (source / "_injected.csv").open() as fh:
        return {(r["file"], int(r["line"]), r["reason"]) for r in csv.DictReader(fh)}


def _national_ids(source: Path) -> list[str]:
    with (source / "persons.csv").open() as fh:
        return [line.split(",", 1)[0] for line in list(fh)[1:]]


@pytest.fixture(scope="module")
def two_extracts(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root / "e1", 3000, seed=7, extract_no=1)
    synth.generate(root / "e2", 3000, seed=7, extract_no=2)
    s = Settings(home=root / "home", master_key_hex=bytes(range(32)).hex())
    return root, s, ingest(root / "e1", "nhi", s)


def test_quarantine_equals_injected(two_extracts):
    root, _, m = two_extracts
    got = set(read_quarantine(Path(m.quarantine)))
    assert len(got) > 0
    assert got == _injected(root / "e1")
    for f in m.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined


def test_no_national_id_in_outputs(two_extracts):
    root, s, m = two_extracts
    ids = _national_ids(root / "e1")
    blob = b"".join(
        p.read_bytes()
        for p in (
            s.warehouse_path,
            Path(m.quarantine),
            s.home / "manifests" / f"{m.ingest_id}.json",
        )
    )
    # every (overlapping) national-ID-shaped byte run in the files, against the source IDs
    found = {m.decode() for m in re.findall(rb"(?=([A-Z][12][0-9]{8}))", blob)}
    assert len(ids) > 1000 and not (found & set(ids))


def test_second_extract_links_to_the_same_person_tokens(two_extracts):
    root, s, _ = two_extracts
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        people = con.execute("SELECT count(*) FROM persons").fetchone()[0]
        claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
    m2 = ingest(root / "e2", "nhi", s)
    assert set(read_quarantine(Path(m2.quarantine))) == _injected(root / "e2")
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM claims").fetchone()[0] > claims
        orphans = con.execute(
            "SELECT count(*) FROM claims WHERE person_id NOT IN (SELECT person_id FROM persons)"
        ).fetchone()[0]
        people2 = con.execute("SELECT count(*) FROM persons").fetchone()[0]
    assert orphans == 0 and people2 >= people
