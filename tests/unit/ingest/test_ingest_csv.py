"""The line reader keeps exact physical line numbers, whatever the lines hold."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from enclave.errors import IngestError
from pseudonymize.adapters._csv import read_csv_lines


def _read(path: Path, cols=("a", "c")):
    con = duckdb.connect()
    info = read_csv_lines(con, path, "t", cols)
    return info, con.execute("SELECT * FROM t ORDER BY ln").fetchall()


def test_line_numbers_with_blank_short_long_and_quoted_lines(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text('a,b,c\n1,2,3\n"x,y",2,3\n\n4,5\n"",6,"q""r"\n7,8,9,10\n')
    info, rows = _read(p)
    assert info.rows_read == 6
    assert rows == [
        (2, True, "1", "3"), (3, True, "x,y", "3"), (4, False, None, None),
        (5, False, "4", None), (6, True, None, 'q"r'), (7, False, "7", "9"),
    ]  # fmt: skip


def test_crlf_and_bom(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes("\ufeffa,b,c\r\n1,2,3\r\n4,5,6\r\n".encode())
    _, rows = _read(p)
    assert rows == [(2, True, "1", "3"), (3, True, "4", "6")]


def test_many_lines_keep_their_order(tmp_path):
    p = tmp_path / "big.csv"
    n = 300_000
    p.write_text("a,b,c\n" + "".join(f"{i},x,{i % 7}\n" for i in range(2, n + 2)))
    con = duckdb.connect()
    con.execute("SET threads = 2")
    read_csv_lines(con, p, "t", ("a",))
    bad = con.execute("SELECT count(*) FROM t WHERE CAST(a AS BIGINT) <> ln").fetchone()[0]
    assert bad == 0


def test_missing_columns_and_missing_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError):
        _read(p)
    with pytest.raises(IngestError):
        _read(tmp_path / "nope.csv")
