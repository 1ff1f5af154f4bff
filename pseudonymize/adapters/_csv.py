"""Read a CSV file into DuckDB in one pass, keeping each row's physical line number.

DuckDB reads the file as one VARCHAR per physical line (the header is skipped) in a
parallel scan whose insertion order is preserved, so a staged table's ``rowid`` is the
0-based data-line index and ``rowid + 2`` the 1-based physical line (header = line 1).
Lines are split on commas and only the columns an adapter names are cut out: names and
addresses never leave the raw line buffer. The adapter's typed expressions and its row
rules (one ``CASE``: the first failing rule is the row's reason) are computed in the
same statement, so each file is scanned and materialised exactly once.

A blank line or a line with the wrong number of fields stays in the table (``ok_cols``
false) so that it is counted as read and can be quarantined. A line holding a double
quote is re-parsed with Python's ``csv`` module and its row recomputed (rare; the
formats we read do not quote).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from enclave.errors import IngestError
from pseudonymize.validate import Rule, reason_case

__all__ = ["LN", "CsvFile", "read_csv_lines", "stage_csv"]

_SEP = "\x1f"  # a byte that never occurs in the extracts: one column per line
#: The 1-based physical line number of a staged row (header = line 1).
LN = "rowid + 2"


@dataclass(frozen=True)
class CsvFile:
    """What was read: the file name, its path and the number of data lines."""

    name: str
    path: Path
    rows_read: int


def _header(path: Path) -> tuple[tuple[str, ...], bool]:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
        text = first.decode("utf-8-sig")
    except OSError:
        raise IngestError(f"Cannot read {path.name}; check the extract's permissions.") from None
    except UnicodeDecodeError:
        raise IngestError(f"{path.name} is not UTF-8 text; export the extract as UTF-8.") from None
    crlf = text.endswith("\r\n")
    names = next(csv.reader([text.rstrip("\r\n")]), [])
    if not names or not all(names):
        raise IngestError(f"{path.name} has no header line; export it with a header row.")
    return tuple(names), crlf


def _select(exprs: Sequence[str], rules: Sequence[Rule], src: str) -> str:
    reason = reason_case([("wrong_column_count", "NOT ok_cols"), *rules])
    return f"SELECT {', '.join(exprs)}, {reason} AS reason FROM {src}"


def _reparse_quoted(
    con: duckdb.DuckDBPyConnection,
    table: str,
    header: tuple[str, ...],
    columns: Sequence[str],
    exprs: Sequence[str],
    rules: Sequence[Rule],
) -> None:
    """Re-read, with the csv module, the lines holding a double quote; recompute them."""
    rows = con.execute(f"SELECT rowid, raw FROM {table} WHERE raw IS NOT NULL").fetchall()
    fixed = []
    for rowid, raw in rows:
        fields = next(csv.reader([raw]), [])
        at = [header.index(c) for c in columns]
        values = [fields[i] or None if i < len(fields) else None for i in at]
        fixed.append((rowid, len(fields) == len(header), *values))
    if fixed:
        cols = ", ".join(f"{c} VARCHAR" for c in columns)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _fix (rid BIGINT, ok_cols BOOLEAN, {cols})")
        con.executemany(f"INSERT INTO _fix VALUES (?, ?{', ?' * len(columns)})", fixed)
        names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "raw"]
        src = "_fix"
        sets = ", ".join(f"{n} = f.{n}" for n in names)
        con.execute(
            f"UPDATE {table} SET {sets} FROM ({_select(['rid', *exprs], rules, src)}) f "
            f"WHERE {table}.rowid = f.rid"
        )
        con.execute("DROP TABLE _fix")
    con.execute(f"UPDATE {table} SET raw = NULL WHERE raw IS NOT NULL")


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    columns: Sequence[str],
    exprs: Sequence[str],
    rules: Sequence[Rule] = (),
) -> CsvFile:
    """Create temp table ``table(<exprs>…, reason, raw)`` from ``path`` in one scan.

    ``columns`` (all in the header, any order) are cut out of each line as VARCHAR
    (empty → NULL) together with ``ok_cols``; ``exprs`` (SQL over those, with ``AS``
    names) are stored; ``reason`` is the first failing rule (``wrong_column_count``
    first), NULL for a good row. ``raw`` is NULL once the call returns.
    """
    if not path.is_file():
        raise IngestError(f"The extract has no {path.name}; check SOURCE and --format.")
    header, crlf = _header(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise IngestError(
            f"{path.name} lacks the columns {', '.join(missing)}; check SOURCE and --format."
        )
    width = len(header)
    raw = "rtrim(raw, chr(13))" if crlf else "raw"
    cols = ", ".join(f"nullif(f[{header.index(c) + 1}], '') AS {c}" for c in columns)
    src = (
        f"(SELECT coalesce(len(f) = {width}, false) AS ok_cols, {cols}, "
        "CASE WHEN contains(raw, '\"') THEN raw END AS raw "
        f"FROM (SELECT {raw} AS raw, string_split({raw}, ',') AS f FROM read_csv($path, "
        f"columns={{'raw': 'VARCHAR'}}, delim='{_SEP}', quote='', escape='', header=false, "
        "skip=1, auto_detect=false, strict_mode=false, max_line_size=1048576)))"
    )
    try:
        con.execute("SET preserve_insertion_order = true")  # rowid = data-line index
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS {_select([*exprs, 'raw'], rules, src)}",
            {"path": str(path)},
        )
    except duckdb.Error:
        raise IngestError(
            f"Cannot parse {path.name} as UTF-8 CSV; check the file and --format."
        ) from None
    finally:
        con.execute("SET preserve_insertion_order = false")
    row = con.execute(f"SELECT count(*), count(raw) FROM {table}").fetchone()
    rows_read, quoted = (int(row[0]), int(row[1])) if row else (0, 0)
    if quoted:
        _reparse_quoted(con, table, header, columns, exprs, rules)
    return CsvFile(path.name, path, rows_read)


def read_csv_lines(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, columns: Sequence[str]
) -> CsvFile:
    """Create temp view ``table(ln, ok_cols, <columns>…)`` from ``path`` (no rules).

    ``columns`` must all appear in the header (in any order); every line must have as
    many fields as the header, or ``ok_cols`` is false. Empty fields are NULL.
    """
    info = stage_csv(con, path, f"_{table}_lines", columns, ["ok_cols", *columns])
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {LN} AS ln, ok_cols, "
        f"{', '.join(columns)} FROM _{table}_lines"
    )
    return info
