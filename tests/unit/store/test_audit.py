"""The hash-chained audit log: intact chains verify; edits, deletions, reordering and
truncation are each detected, by editing the SQLite file directly."""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest

from enclave.store import AuditRecord, open_store
from tests._store_rows import fill_audit


def _fill(settings, n=6):
    with open_store(settings) as store:
        fill_audit(store, n, verdicts=("released", "refused"), error_type="QueryRejected")


def _sql(settings, *statements):
    con = sqlite3.connect(settings.metadata_path)
    try:
        for s in statements:
            con.execute(s)
        con.commit()
    finally:
        con.close()


def _verify(settings):
    with open_store(settings) as store:
        return store.audit_log.verify()


def test_intact_chain_verifies_and_exports(settings):
    _fill(settings)
    v = _verify(settings)
    assert (v.ok, v.records, v.problem, v.head_seq) == (True, 6, None, 6)
    with open_store(settings) as store:
        records = list(store.audit_log.export())
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    assert records[2]["epsilon"] == pytest.approx(0.2)
    anchor = json.loads((settings.home / "metadata.sqlite.audit-head").read_text())
    assert anchor == {"seq": 6, "hash": records[-1]["hash"]}


def test_paging_export_and_verify(settings, monkeypatch):
    from enclave.store import _audit

    monkeypatch.setattr(_audit, "_PAGE", 2)
    _fill(settings, 5)
    with open_store(settings) as store:
        assert [r["seq"] for r in store.audit_log.export()] == [1, 2, 3, 4, 5]
        assert store.audit_log.verify().records == 5
    _sql(settings, "DELETE FROM audit_log WHERE seq = 3")
    assert _verify(settings).problem == "deleted"


def test_empty_store_verifies(settings):
    v = _verify(settings)
    assert v.ok and v.records == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET verdict = 'released' WHERE seq = 4",
        "UPDATE audit_log SET epsilon = 0.0 WHERE seq = 4",
        "UPDATE audit_log SET error_type = NULL WHERE seq = 4",
        "UPDATE audit_log SET actor = 'someone' WHERE seq = 4",
    ],
)
def test_edit_detected(settings, statement):
    _fill(settings)
    _sql(settings, statement)
    v = _verify(settings)
    assert (v.ok, v.problem, v.first_bad_seq) == (False, "edited", 4)


def test_edit_with_recomputed_chain_detected_by_anchor(settings):
    """An attacker who rewrites record 2 and every later hash is caught by the file anchor."""
    from enclave.store._audit import chain_hash

    _fill(settings)
    con = sqlite3.connect(settings.metadata_path)
    rows = con.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    cols = [d[0] for d in con.execute("SELECT * FROM audit_log").description]
    prev = "0" * 64
    for row in rows:
        rec = dict(zip(cols, row))
        if rec["seq"] == 2:
            rec["verdict"] = "released"
        fields = {k: rec[k] for k in cols if k not in ("seq", "prev_hash", "hash")}
        digest = chain_hash(prev, AuditRecord(**fields))
        con.execute(
            "UPDATE audit_log SET verdict = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (rec["verdict"], prev, digest, rec["seq"]),
        )
        prev = digest
    con.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
    con.commit()
    con.close()
    v = _verify(settings)
    assert not v.ok and v.problem == "edited"


#: Edits of the log file and what verification must say (the first bad seq where fixed).
TAMPERING = {
    "delete": (["DELETE FROM audit_log WHERE seq = 3"], "deleted", 3),
    "delete and renumber": (
        [
            "DELETE FROM audit_log WHERE seq = 3",
            "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3",
        ],
        "deleted",
        None,
    ),
    "reorder": (
        [
            "UPDATE audit_log SET seq = 100 WHERE seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = 100",
        ],
        "reordered",
        3,
    ),
    "truncation (head table)": (["DELETE FROM audit_log WHERE seq >= 5"], "truncated", 5),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_detected(settings, case):
    statements, problem, first_bad = TAMPERING[case]
    _fill(settings)
    _sql(settings, *statements)
    v = _verify(settings)
    assert (v.ok, v.problem) == (False, problem)
    if first_bad is not None:
        assert v.first_bad_seq == first_bad


def test_truncation_with_forged_head_detected_by_file_anchor(settings):
    _fill(settings)
    con = sqlite3.connect(settings.metadata_path)
    (h4,) = con.execute("SELECT hash FROM audit_log WHERE seq = 4").fetchone()
    con.close()
    _sql(
        settings,
        "DELETE FROM audit_log WHERE seq >= 5",
        f"UPDATE audit_head SET seq = 4, hash = '{h4}' WHERE id = 1",
    )
    v = _verify(settings)
    assert (v.ok, v.problem) == (False, "truncated")


def test_missing_anchor_file_reported(settings):
    _fill(settings)
    (settings.home / "metadata.sqlite.audit-head").unlink()
    v = _verify(settings)
    assert (v.ok, v.problem) == (False, "truncated")


def test_wiped_log_detected(settings):
    _fill(settings)
    _sql(settings, "DELETE FROM audit_log", "UPDATE audit_head SET seq = 0")
    v = _verify(settings)
    assert (v.ok, v.problem) == (False, "truncated")


def test_detail_is_kept_short_and_hash_survives_int_epsilon(settings):
    with open_store(settings) as store:
        store.audit(
            AuditRecord.now(action="x", verdict="y", actor="a", epsilon=1, detail="z" * 999)
        )
        [record] = list(store.audit_log.export())
        assert len(record["detail"]) == 200 and record["epsilon"] == 1.0
        assert store.audit_log.verify().ok
