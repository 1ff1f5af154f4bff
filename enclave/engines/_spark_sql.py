"""The gateway's rewritten SQL (DuckDB dialect) checked and transpiled to Spark SQL.

Defence in depth: the front half has already allow-listed everything, yet the Spark
engine itself accepts only one ``SELECT`` (with CTEs) over the canonical tables and the
query's own CTEs — no commands (``SET``, ``ADD JAR``, ``CREATE FUNCTION``…), no file
paths (``parquet.`/…```), no qualified or catalog names, no table functions, no
backtick-quoted identifiers, none of Spark's reflective or file functions. The check runs
on the DuckDB text and again on the Spark text that is generated.

Where the two engines disagree on a function, the transpiled expression is rewritten to
DuckDB's meaning (sqlglot does the rest):

* ``dayofweek``/``extract(dow …)``: DuckDB counts Sunday = 0, Spark Sunday = 1;
* ``isodow``: Monday = 1 … Sunday = 7 (Spark ``weekday(d) + 1``);
* ``isoyear``: Spark ``extract(YEAROFWEEK …)``;
* ``date_trunc``: DuckDB returns a TIMESTAMP without time zone, Spark a zoned one
  (cast to ``TIMESTAMP_NTZ``; the session time zone is UTC);
* ``a / b``: always a DOUBLE in DuckDB, a DECIMAL of limited scale in Spark when both
  sides are decimals (``1.0`` literals): the dividend is cast to DOUBLE;
* ``OVER (w ROWS …)``: Spark cannot extend a named window; named windows are inlined;
* ``TRY(x)``: Spark has no such wrapper; the session runs with ANSI mode off, where a
  failing cast, overflow or division gives NULL instead of an error, so ``x`` alone has
  DuckDB's ``TRY(x)`` meaning;
* ``hash(a, b, …)``: DuckDB's 64-bit hash has no Spark twin; it becomes
  ``md5(concat_ws('|', CAST(a AS STRING), …))``, which is what the rewrite must also
  use on DuckDB for both engines to pick the same rows (``portable_hash``).

>>> to_spark("SELECT dayofweek(visit_date) AS d FROM claims")
'SELECT DAYOFWEEK(visit_date) - 1 AS d FROM claims'
>>> to_spark("SELECT TRY(x + 1) AS y FROM claims")
'SELECT x + 1 AS y FROM claims'
>>> to_spark("SELECT * FROM parquet.`/etc`")
Traceback (most recent call last):
...
enclave.errors.QueryRejected: The engine accepts one SELECT over the warehouse tables only.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from enclave.engines.hashing import portable_hash
from enclave.errors import QueryRejected
from enclave.schema import TABLES

__all__ = ["DENIED_FUNCTIONS", "check_sandbox", "to_spark"]

_REFUSED = "The engine accepts one SELECT over the warehouse tables only."

#: Spark/DuckDB functions that reach the JVM, files, the catalog or the session.
DENIED_FUNCTIONS = frozenset(
    {
        "reflect",
        "java_method",
        "try_reflect",
        "input_file_name",
        "input_file_block_start",
        "input_file_block_length",
        "current_user",
        "user",
        "session_user",
        "current_catalog",
        "current_database",
        "current_schema",
        "read_files",
        "read_parquet",
        "read_csv",
        "read_csv_auto",
        "read_json",
        "read_text",
        "read_blob",
        "parquet_scan",
        "glob",
        "url_decode",
        "url_encode",
        "parse_url",
        "from_avro",
        "to_avro",
        "from_protobuf",
        "to_protobuf",
        "assert_true",
        "raise_error",
        "error",
        "getenv",
        "current_setting",
        "version",
        "spark_partition_id",
        "monotonically_increasing_id",
        "rand",
        "randn",
        "random",
        "uuid",
        "shuffle",
    }
)

_ALLOWED_ROOTS = (exp.Select,)


def _refuse() -> QueryRejected:
    return QueryRejected(_REFUSED)


def _parse(sql: str, dialect: str) -> exp.Expr:
    if "`" in sql and dialect == "duckdb":
        raise _refuse()  # DuckDB SQL never needs backticks; Spark reads them as paths
    try:
        trees = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        raise _refuse() from None
    if len(trees) != 1 or trees[0] is None:
        raise _refuse()
    return trees[0]


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return str(node.sql_name()).lower() if isinstance(node, exp.Func) else ""


def check_sandbox(tree: exp.Expr) -> exp.Expr:
    """Refuse anything but one SELECT over canonical tables and its own CTEs.

    >>> check_sandbox(sqlglot.parse_one("SELECT count(*) FROM claims")).sql()
    'SELECT COUNT(*) FROM claims'
    """
    if not isinstance(tree, _ALLOWED_ROOTS):
        raise _refuse()
    ctes = {str(c.alias_or_name).lower() for c in tree.find_all(exp.CTE)}
    allowed = {t.lower() for t in TABLES} | ctes
    for node in tree.walk():
        if isinstance(node, exp.Command | exp.Create | exp.Set | exp.Use | exp.Drop):
            raise _refuse()
        if isinstance(node, exp.Insert | exp.Update | exp.Delete | exp.Merge | exp.Describe):
            raise _refuse()
        if isinstance(node, exp.Table):
            if not isinstance(node.this, exp.Identifier) or node.args.get("db"):
                raise _refuse()
            if node.args.get("catalog") or str(node.name).lower() not in allowed:
                raise _refuse()
        if isinstance(node, exp.Identifier) and any(ch in node.name for ch in "/\\`:"):
            raise _refuse()
        if isinstance(node, exp.Func) and _function_name(node) in DENIED_FUNCTIONS:
            raise _refuse()
        if isinstance(node, exp.Lambda | exp.Placeholder | exp.Parameter):
            raise _refuse()
    return tree


def _md5_of(args: list[exp.Expr]) -> exp.Expr:
    text = portable_hash(*(a.sql(dialect="duckdb") for a in args))
    return sqlglot.parse_one(text, read="duckdb")  # DuckDB's concat_ws: NULLs skipped


def _extract_unit(node: exp.Expr) -> tuple[str, exp.Expr] | None:
    if isinstance(node, exp.Extract):
        return str(node.this.name).lower(), node.expression
    if (
        isinstance(node, exp.Anonymous)
        and str(node.name).lower() == "date_part"
        and len(node.expressions) == 2
        and isinstance(node.expressions[0], exp.Literal)
    ):
        return str(node.expressions[0].this).lower(), node.expressions[1]
    return None


def _date_part(unit: str, arg: exp.Expr) -> exp.Expr | None:
    a = arg.copy()
    if unit in ("dow", "dayofweek", "weekday"):
        return exp.Sub(this=exp.Anonymous(this="DAYOFWEEK", expressions=[a]), expression=_one())
    if unit == "isodow":
        return exp.Add(this=exp.Anonymous(this="WEEKDAY", expressions=[a]), expression=_one())
    if unit == "isoyear":
        return exp.Extract(this=exp.var("YEAROFWEEK"), expression=a)
    if unit in ("week", "weekofyear"):
        return exp.Anonymous(this="WEEKOFYEAR", expressions=[a])
    if unit in ("year", "quarter", "month", "day", "dayofyear", "doy"):
        name = "DAYOFYEAR" if unit in ("dayofyear", "doy") else unit.upper()
        return exp.Anonymous(this=name, expressions=[a])
    return None


def _one() -> exp.Expr:
    return exp.Literal.number(1)


def _is_double(node: exp.Expr) -> bool:
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DOUBLE)


def _to_duckdb_meaning(node: exp.Expr) -> exp.Expr:
    """One node rewritten so that Spark computes what DuckDB computes."""
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "hash":
        return _md5_of(list(node.expressions))
    if isinstance(node, exp.Div) and not _is_double(node.this):
        return exp.Div(
            this=exp.cast(node.this.copy(), exp.DataType.build("double")),
            expression=node.expression.copy(),
        )
    if isinstance(node, exp.DayOfWeek):
        return _date_part("dow", node.this) or node
    if isinstance(node, exp.DayOfWeekIso):
        return _date_part("isodow", node.this) or node
    if isinstance(node, exp.Week | exp.WeekOfYear):
        return _date_part("week", node.this) or node
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "isoyear":
        return _date_part("isoyear", node.expressions[0]) or node
    part = _extract_unit(node)
    if part is not None:
        return _date_part(*part) or node
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and not isinstance(
        node.parent, exp.Cast
    ):
        return exp.cast(node.copy(), exp.DataType.build("timestamp_ntz", dialect="spark"))
    return node


def _inline_windows(tree: exp.Expr) -> exp.Expr:
    """Replace ``OVER (w …)`` by the named window's definition (every SELECT).

    >>> t = sqlglot.parse_one("SELECT sum(n) OVER (w ROWS 1 PRECEDING) FROM t "
    ...                       "WINDOW w AS (PARTITION BY p ORDER BY x)", read="duckdb")
    >>> _inline_windows(t).sql(dialect="spark")
    'SELECT SUM(n) OVER (PARTITION BY p ORDER BY x NULLS LAST ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t'
    """
    for select in list(tree.find_all(exp.Select)):
        defs = select.args.get("windows") or []
        named = {str(w.this.name).lower(): w for w in defs if isinstance(w.this, exp.Identifier)}
        if not named:
            continue
        for window in select.find_all(exp.Window):
            ref = window.args.get("alias")
            if window in defs or ref is None or window.find_ancestor(exp.Select) is not select:
                continue
            definition = named.get(str(ref.name).lower())
            if definition is None:
                continue
            window.set("alias", None)
            if not window.args.get("partition_by"):
                window.set(
                    "partition_by", [e.copy() for e in definition.args.get("partition_by") or []]
                )
            if window.args.get("order") is None and definition.args.get("order") is not None:
                window.set("order", definition.args["order"].copy())
            if window.args.get("spec") is None and definition.args.get("spec") is not None:
                window.set("spec", definition.args["spec"].copy())
        select.set("windows", None)
    return tree


def to_spark(sql: str) -> str:
    """Spark SQL for the gateway's DuckDB SQL, or ``QueryRejected`` if it leaves the box."""
    tree = check_sandbox(_parse(sql, "duckdb"))
    for wrapper in list(tree.find_all(exp.Try)):  # ANSI off: a failing row gives NULL, as TRY
        wrapper.replace(wrapper.this)
    tree = _inline_windows(tree.transform(_to_duckdb_meaning, copy=True))
    out = tree.sql(dialect="spark")
    check_sandbox(_parse(out, "spark"))
    return out
