"""Staging memory and warehouse layout: sizes parse, the default never shrinks the
configured limit, token columns are stored plain, an older token format is refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from enclave.errors import IngestError
from enclave.settings import Settings
from pseudonymize.ingest import ingest
from pseudonymize.staging import machine_memory, parse_bytes, staging_memory
from tests.ingest_fake import write_extract


def _settings(home: Path, **kw: str) -> Settings:
    return Settings(home=home, master_key_hex=bytes(range(32)).hex(), **kw)


@pytest.mark.parametrize(
    "text, expected",
    [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), (" 1.5 gb ", 15 * 10**8), ("100", 100)],
)
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "2XB", "-1GB"])
def test_parse_bytes_refuses_nonsense(text):
    with pytest.raises(IngestError):
        parse_bytes(text)


def test_staging_memory_default_and_override(tmp_path):
    default = parse_bytes(staging_memory(_settings(tmp_path)))
    assert default >= parse_bytes("2GB") - 10**6
    assert default >= int(machine_memory() * 0.25) - 10**6
    small = _settings(tmp_path, memory_limit="100GB")
    assert parse_bytes(staging_memory(small)) == parse_bytes("100GB")
    given = _settings(tmp_path, ingest_memory_limit="3GiB")
    assert staging_memory(given) == f"{3 * 2**30 // 10**6}MB"


def test_environment_sets_the_staging_memory():
    s = Settings.from_environ({"ENCLAVE_HOME": "/tmp/x", "ENCLAVE_INGEST_MEMORY_LIMIT": "5GB"})
    assert s.ingest_memory_limit == "5GB"
    assert Settings.from_environ({"ENCLAVE_HOME": "/tmp/x"}).ingest_memory_limit is None


def test_token_columns_are_stored_uncompressed(tmp_path):
    s = _settings(tmp_path / "home")
    ingest(write_extract(tmp_path / "e").path, "nhi", s)
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT column_name, compression FROM pragma_storage_info('claims') "
            "WHERE segment_type = 'VARCHAR' AND column_name LIKE '%_id'"
        ).fetchall()
        lengths = con.execute("SELECT DISTINCT length(person_id) FROM claims").fetchall()
    assert {c for c, _ in rows} == {"claim_id", "person_id", "provider_id"}
    assert {m for _, m in rows} == {"Uncompressed"}
    assert lengths == [(22,)]


def test_warehouse_with_older_token_format_is_refused_unchanged(tmp_path):
    s = _settings(tmp_path / "home")
    ingest(write_extract(tmp_path / "e1").path, "nhi", s)
    with duckdb.connect(str(s.warehouse_path)) as con:  # as a 32-hex-digit warehouse
        con.execute("UPDATE persons SET person_id = person_id || '0123456789'")
    before = s.warehouse_path.read_bytes()
    with pytest.raises(IngestError) as err:
        ingest(write_extract(tmp_path / "e2", extract_no=2).path, "nhi", s)
    assert "key rotate" in err.value.message
    assert s.warehouse_path.read_bytes() == before
