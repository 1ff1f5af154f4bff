"""Row rules: the SQL check digit agrees with the reference, and reasons keep their order
when identifier rules are applied after the reading scan."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb

from enclave.settings import Settings
from pseudonymize.ingest import ingest
from pseudonymize.national_id import is_valid, with_check_digit
from pseudonymize.quarantine import read_quarantine
from pseudonymize.validate import bad_check_digit, bad_id_format
from tests.ingest_fake import national_id, write_extract


def test_sql_check_digit_equals_reference():
    rng = random.Random(3)
    ids = [
        with_check_digit(
            chr(65 + rng.randrange(26)), f"{rng.choice('12')}{rng.randrange(10**7):07d}"
        )
        for _ in range(3000)
    ]
    ids += [i[:-1] + str((int(i[-1]) + 1 + rng.randrange(9)) % 10) for i in ids[:1500]]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in ids])
    sql = f"SELECT x, NOT ({bad_id_format('x')}) AND NOT ({bad_check_digit('x')}) FROM t"
    got = dict(con.execute(sql).fetchall())
    assert sum(got[i] == is_valid(i) for i in ids) == len(ids)
    assert 0 < sum(got.values()) < len(ids)


def _append(path: Path, lines: list[tuple[str, str]]) -> set[tuple[str, int, str]]:
    """Append lines to a CSV file; return their (file, line, reason) truth."""
    start = path.read_text().count("\n")
    with path.open("a") as fh:
        fh.writelines(line + "\n" for line, _ in lines)
    return {(path.name, start + i + 1, reason) for i, (_, reason) in enumerate(lines)}


def test_reasons_keep_their_order(tmp_path):
    fake = write_extract(tmp_path / "e", persons=12)
    ids, claims = fake.identifiers[:12], fake.claim_nos
    bad = ids[0][:-1] + str((int(ids[0][-1]) + 1) % 10)  # a bad check digit
    stranger, too_old = national_id(900), national_id(901)
    truth = set(fake.injected)
    truth |= _append(fake.path / "persons.csv", [
        (f"{too_old},Fake Old,1800-01-01,M,1 Fake Rd,Taipei,employee", "out_of_range"),
    ])  # fmt: skip
    truth |= _append(fake.path / "claims.csv", [
        (f"Z1,{bad},PV0001,2024-02-02,outpatient,I10,-5,0", "bad_check_digit"),
        (f"Z2,{ids[2]},PV0001,2024-02-02,outpatient,BAD,5,0", "bad_code"),
        (f"Z3,{too_old},PV0001,2024-02-02,outpatient,I10,5,0", "person_quarantined"),
        (f"Z4,{ids[2]},PV9999,2024-02-02,outpatient,I10,5,0", "unknown_provider"),
    ])  # fmt: skip
    truth |= _append(fake.path / "diagnoses.csv", [
        (f"{claims[3]},{bad},1,BAD", "bad_check_digit"),
        (f"{claims[3]},{ids[5]},7,I10", "person_mismatch"),
        (f"{claims[3]},{ids[1]},1,I10", "duplicate_diagnosis"),
        (f"{claims[3]},{ids[1]},2,BAD", "bad_code"),
        (f"Z3,{too_old},1,I10", "claim_quarantined"),
    ])  # fmt: skip
    truth |= _append(fake.path / "prescriptions.csv", [
        (f"Z1,{ids[1]},A10BA02,30,1", "claim_quarantined"),
        (f"NOPE,{ids[1]},A10BA02,30,1", "unknown_claim"),
        (f"{claims[3]},{bad},A10BA02,30,-1", "bad_check_digit"),
        (f"{claims[3]},{stranger},A10BA02,30,1", "unknown_person"),
        (f"{claims[3]},{ids[1]},A10BA02,30,-1", "negative_amount"),
    ])  # fmt: skip
    s = Settings(home=tmp_path / "home", master_key_hex=bytes(range(32)).hex())
    m = ingest(fake.path, "nhi", s)
    assert set(read_quarantine(Path(m.quarantine))) == truth
    for f in m.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined
