"""NHI-style ingest: counts, quarantine truth, no identifiers out, tokens link, idempotence."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from enclave.errors import IngestError
from enclave.schema import TABLES
from enclave.settings import Settings
from pseudonymize.ingest import ingest
from pseudonymize.keys import Keyring
from pseudonymize.quarantine import read_quarantine
from tests.ingest_fake import write_extract


def _settings(home: Path, key: bytes = bytes(range(32))) -> Settings:
    return Settings(home=home, master_key_hex=key.hex())


def _counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _column(path: Path, sql: str) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {r[0] for r in con.execute(sql).fetchall()}


def _leaks(paths: list[Path], identifiers: list[str]) -> int:
    """How many identifier values occur in the raw bytes of the files (never prints them)."""
    blob = b"".join(p.read_bytes() for p in paths)
    return sum(1 for v in identifiers if v.encode() in blob)


def _warehouse_strings(path: Path) -> set[str]:
    out: set[str] = set()
    with duckdb.connect(str(path), read_only=True) as con:
        for table, cols in TABLES.items():
            for col, typ in cols:
                if typ == "VARCHAR":
                    out |= {
                        r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM {table}").fetchall()
                    }
    return out


def _injected(source: Path) -> set[tuple[str, int, str]]:
    with (source / "_injected.csv").open() as fh:
        return {(r["file"], int(r["line"]), r["reason"]) for r in csv.DictReader(fh)}


@pytest.fixture
def loaded(tmp_path):
    fake = write_extract(tmp_path / "e1")
    s = _settings(tmp_path / "home")
    return fake, s, ingest(fake.path, "nhi", s)


def test_rows_read_equals_loaded_plus_quarantined(loaded):
    fake, s, m = loaded
    for f in m.files:
        lines = (fake.path / f.name).read_text().count("\n") - 1
        assert f.rows_read == lines
        assert f.rows_read == f.rows_loaded + f.rows_quarantined
    assert (
        _counts(s.warehouse_path)["claims"]
        == next(f for f in m.files if f.table == "claims").rows_loaded
    )


def test_quarantine_matches_injected_truth(loaded):
    fake, _, m = loaded
    assert set(read_quarantine(Path(m.quarantine))) == _injected(fake.path) == fake.injected


def test_no_identifier_leaves_the_source(loaded):
    fake, s, m = loaded
    manifest_file = s.home / "manifests" / f"{m.ingest_id}.json"
    files = [s.warehouse_path, Path(m.quarantine), manifest_file]
    assert _leaks(files, fake.identifiers + fake.claim_nos) == 0
    assert not (_warehouse_strings(s.warehouse_path) & set(fake.identifiers + fake.claim_nos))
    assert "master_key" not in m.to_json() and s.master_key_hex not in m.to_json()


def test_warehouse_holds_only_canonical_tables(loaded):
    _, s, _ = loaded
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert names == set(TABLES)


def test_ages_over_89_are_top_coded(loaded):
    _, s, m = loaded  # the fake's first two persons were born in 1920; reference 2024-12-31
    years = _column(s.warehouse_path, "SELECT birth_year FROM persons")
    assert min(years) == 2024 - 90
    assert m.reference_date == "2024-12-31"


def test_same_extract_twice_adds_nothing(loaded):
    fake, s, _ = loaded
    before = _counts(s.warehouse_path)
    again = ingest(fake.path, "nhi", s)
    assert _counts(s.warehouse_path) == before
    assert all(f.rows_new == 0 for f in again.files)


def test_second_extract_appends_and_links_persons(loaded, tmp_path):
    _, s, _ = loaded
    people_before = _column(s.warehouse_path, "SELECT person_id FROM persons")
    before = _counts(s.warehouse_path)
    fake2 = write_extract(tmp_path / "e2", extract_no=2)
    ingest(fake2.path, "nhi", s)
    after = _counts(s.warehouse_path)
    assert after["claims"] == 2 * before["claims"]
    assert after["persons"] == before["persons"]
    # every claim of both extracts points at the same person tokens
    assert _column(s.warehouse_path, "SELECT DISTINCT person_id FROM claims") == people_before


def test_different_master_key_gives_different_tokens(loaded, tmp_path):
    fake, s, _ = loaded
    other = _settings(tmp_path / "other", key=bytes(range(1, 33)))
    ingest(fake.path, "nhi", other)
    for sql in (
        "SELECT person_id FROM persons",
        "SELECT claim_id FROM claims",
        "SELECT provider_id FROM providers",
    ):
        a, b = _column(s.warehouse_path, sql), _column(other.warehouse_path, sql)
        assert len(a) == len(b) and not (a & b)


def test_extract_with_zero_valid_rows_changes_nothing(loaded, tmp_path):
    _, s, _ = loaded
    bad = write_extract(tmp_path / "bad", extract_no=3)
    text = (bad.path / "claims.csv").read_text().splitlines()
    (bad.path / "claims.csv").write_text(text[0] + "\n" + "".join(f"{t},extra\n" for t in text[1:]))
    before, manifests = _counts(s.warehouse_path), sorted((s.home / "manifests").iterdir())
    with pytest.raises(IngestError):
        ingest(bad.path, "nhi", s)
    assert _counts(s.warehouse_path) == before
    assert sorted((s.home / "manifests").iterdir()) == manifests


@pytest.mark.parametrize("case", ["missing_dir", "missing_file", "bad_header", "format", "wh_dir"])
def test_bad_input_raises_ingest_error(tmp_path, case):
    fake = write_extract(tmp_path / "e")
    s = _settings(tmp_path / "home")
    source, fmt, wh = fake.path, "nhi", None
    if case == "missing_dir":
        source = tmp_path / "nope"
    elif case == "missing_file":
        (fake.path / "claims.csv").unlink()
    elif case == "bad_header":
        (fake.path / "persons.csv").write_text("a,b\n1,2\n")
    elif case == "format":
        fmt = "synthea"
    else:
        wh = tmp_path / "whdir"
        wh.mkdir()
    with pytest.raises(IngestError) as err:
        ingest(source, fmt, s, warehouse=wh)
    assert "\n" not in err.value.message
    assert not s.warehouse_path.exists()


def test_rotation_changes_tokens_keeps_counts_and_links(tmp_path):
    fake = write_extract(tmp_path / "e1")
    fake2 = write_extract(tmp_path / "e2", extract_no=2)
    s = Settings(home=tmp_path / "home")  # key file mode
    ingest(fake.path, "nhi", s)
    ingest(fake2.path, "nhi", s)
    from pseudonymize.rotate import rotate_key

    before = _counts(s.warehouse_path)
    old_people = _column(s.warehouse_path, "SELECT person_id FROM persons")
    old_id = Keyring(bytes.fromhex(s.key_path.read_text().strip())).key_id
    result = rotate_key(s)
    assert result.old_key_id == old_id and result.new_key_id != old_id
    assert Path(result.archived_key).exists()
    assert _counts(s.warehouse_path) == before
    new_people = _column(s.warehouse_path, "SELECT person_id FROM persons")
    assert len(new_people) == len(old_people) and not (new_people & old_people)
    assert _column(s.warehouse_path, "SELECT DISTINCT person_id FROM claims") <= new_people
    # a later ingest under the new key links to the rotated tokens
    ingest(write_extract(tmp_path / "e3", extract_no=3).path, "nhi", s)
    assert _column(s.warehouse_path, "SELECT person_id FROM persons") == new_people
