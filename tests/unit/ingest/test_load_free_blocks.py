"""The published warehouse holds only live de-identified rows, never freed staging blocks.

DuckDB frees the blocks of dropped data without wiping them. A build that staged
identified rows inside its working file would, without the final rewrite, publish those
bytes in the warehouse's free blocks — the intermittent national-ID hits the ingest byte
scan found under memory pressure.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pseudonymize.load import building, warehouse_lock

MARKER = "STAGEDMARKER"


def test_dropped_staging_data_never_reaches_the_published_file(tmp_path: Path) -> None:
    target = tmp_path / "warehouse.duckdb"
    con = duckdb.connect()
    with warehouse_lock(target), building(con, target, "t"):
        con.execute(
            f"CREATE TABLE wh.staged AS SELECT '{MARKER}' || i::VARCHAR AS raw "
            "FROM range(200000) t(i)"
        )
        con.execute("CHECKPOINT wh")
        con.execute("DROP TABLE wh.staged")
        con.execute("CHECKPOINT wh")
    assert target.is_file()
    assert MARKER.encode() not in target.read_bytes()
    tables = duckdb.connect(str(target), read_only=True).execute("SHOW TABLES").fetchall()
    assert ("staged",) not in tables
