"""Keyed tokens: the SQL HMAC equals cryptography's; keys derive and persist safely."""

from __future__ import annotations

import os
import stat

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.errors import IngestError
from enclave.settings import Settings
from pseudonymize.keys import Keyring, load_keyring, read_key_file, write_key_file
from pseudonymize.tokens import sql_params, token, token_sql

RING = Keyring(bytes(range(32)))
VALUES = ["", "A123456789", "é", "臺北市", "a,b", "x" * 200, "🙂 emoji", "line\nbreak", "'q'"]


def _sql_tokens(ring: Keyring, domain: str, values: list[str]) -> list[str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE v (i INTEGER, x VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?, ?)", list(enumerate(values)))
    rows = con.execute(
        f"SELECT {token_sql('x', domain)} FROM v ORDER BY i", sql_params(ring, [domain])
    ).fetchall()
    return [r[0] for r in rows]


def test_sql_hmac_equals_cryptography_on_many_values():
    values = VALUES + [f"C{i:09d}" for i in range(2000)]
    for domain in ("person", "claim", "provider"):
        assert _sql_tokens(RING, domain, values) == [token(RING, domain, v) for v in values]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=20))
def test_sql_hmac_equals_cryptography_on_any_unicode(values):
    assert _sql_tokens(RING, "person", values) == [token(RING, "person", v) for v in values]


def test_tokens_depend_on_key_and_domain():
    other = Keyring(bytes(range(1, 33)))
    assert token(RING, "person", "A123456789") == token(RING, "person", "A123456789")
    assert token(RING, "person", "A123456789") != token(other, "person", "A123456789")
    assert token(RING, "person", "A123456789") != token(RING, "claim", "A123456789")
    assert RING.key_id != other.key_id


def test_key_never_in_repr_and_key_id_is_not_the_key():
    assert RING.master.hex() not in repr(RING)
    assert RING.key_id not in RING.master.hex()


def test_key_file_created_0600_and_reused(tmp_path):
    s = Settings(home=tmp_path / "home")
    ring = load_keyring(s)
    mode = stat.S_IMODE(os.stat(s.key_path).st_mode)
    assert mode == 0o600
    assert load_keyring(s).key_id == ring.key_id


def test_given_key_overrides_file(tmp_path):
    s = Settings(home=tmp_path, master_key_hex=RING.master.hex())
    assert load_keyring(s).key_id == RING.key_id
    assert not s.key_path.exists()


@pytest.mark.parametrize("content, mode", [("zz", 0o600), ("ab" * 31, 0o600), ("ab" * 32, 0o644)])
def test_bad_key_files_are_refused(tmp_path, content, mode):
    path = tmp_path / "k"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(IngestError):
        read_key_file(path)


def test_unreadable_or_directory_key_file(tmp_path):
    with pytest.raises(IngestError):
        read_key_file(tmp_path)
    with pytest.raises(IngestError):
        read_key_file(tmp_path / "missing")
    write_key_file(tmp_path / "k", bytes(32))
    assert read_key_file(tmp_path / "k") == bytes(32)


def test_tokens_are_22_url_safe_characters_of_128_bits():
    import base64
    import re

    values = [f"C{i:09d}" for i in range(500)]
    tokens = [token(RING, "claim", v) for v in values]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", t) for t in tokens)
    assert len(set(tokens)) == len(values)
    raw = base64.urlsafe_b64decode(tokens[0] + "==")
    assert len(raw) == 16  # 128 bits of the HMAC, nothing else
