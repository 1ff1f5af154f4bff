"""The Spark engine itself: Parquet export layout, engine protocol, and its own sandbox
(refusals that do not rely on the gateway's front half)."""

from __future__ import annotations

import json
import math

import duckdb
import pytest

from enclave.engines._spark_sql import DENIED_FUNCTIONS, to_spark
from enclave.engines.parquet import MANIFEST, duckdb_view_sql, export_parquet, read_manifest
from enclave.errors import QueryRejected, UserError
from enclave.schema import TABLES
from enclave.settings import Settings
from tests import _spark_env
from tests._spark_env import SMALL_CONF

spark_session = _spark_env.spark_session  # fixtures
spark_warehouse = _spark_env.spark_warehouse

# -- export (no JVM) -------------------------------------------------------------------


def test_export_layout_is_hive_partitioned_by_visit_month(spark_warehouse):
    settings, root = spark_warehouse
    months = sorted(p.name for p in (root / "claims").iterdir())
    assert months and all(m.startswith("visit_month=20") for m in months)
    manifest = json.loads((root / MANIFEST).read_text())
    assert set(manifest["rows"]) == set(TABLES)
    assert manifest["rows"]["claims"] > 0
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for table in TABLES:
            (want,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            [(got,)] = duckdb.sql(
                f"SELECT count(*) FROM ({duckdb_view_sql(root, table)})"
            ).fetchall()
            assert got == want == manifest["rows"][table]
        same = con.execute(
            "SELECT count(*) FROM claims c JOIN ("
            + duckdb_view_sql(root, "claims")
            + ") e USING (claim_id) WHERE c.visit_date = e.visit_date AND c.amount = e.amount"
        ).fetchone()
        assert same == (manifest["rows"]["claims"],)
    finally:
        con.close()


def test_export_manifest_has_counts_only(spark_warehouse):
    _, root = spark_warehouse
    text = (root / MANIFEST).read_text()
    assert "visit_month=" not in text and "person" not in text.replace("persons", "")


def test_export_needs_a_warehouse_and_refuses_foreign_folder(tmp_path):
    with pytest.raises(UserError, match="enclave ingest"):
        export_parquet(Settings(home=tmp_path))
    with pytest.raises(UserError, match="enclave export parquet"):
        read_manifest(tmp_path)


def test_export_replaces_an_earlier_export_whole(spark_warehouse, tmp_path):
    settings, _ = spark_warehouse
    out = tmp_path / "exp"
    export_parquet(settings, out)
    (out / "claims" / "stale.parquet").write_bytes(b"x")
    export_parquet(settings, out)
    assert not (out / "claims" / "stale.parquet").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with pytest.raises(UserError, match="not an earlier export"):
        export_parquet(settings, foreign)


# -- the engine's own sandbox (no JVM needed for the checks) -----------------------------

ATTACKS = [
    "SELECT * FROM parquet.`/etc`",
    "SELECT * FROM csv.`/etc/passwd`",
    'SELECT * FROM "/etc/passwd"',
    "SET spark.sql.runSQLOnFiles=true",
    "ADD JAR /tmp/evil.jar",
    "ADD FILE /etc/passwd",
    "CREATE FUNCTION f AS 'com.example.Evil'",
    "CREATE TEMPORARY FUNCTION f AS 'com.example.Evil' USING JAR '/tmp/evil.jar'",
    "CREATE TEMPORARY VIEW v AS SELECT * FROM claims",
    "SHOW TABLES",
    "SHOW DATABASES",
    "DESCRIBE claims",
    "USE other",
    "SELECT * FROM default.claims",
    "SELECT * FROM spark_catalog.default.claims",
    "SELECT * FROM global_temp.v",
    "SELECT * FROM information_schema.tables",
    "SELECT count(*) FROM claims; SELECT 1",
    "SELECT reflect('java.lang.System', 'getProperty', 'user.home') FROM claims",
    "SELECT java_method('java.lang.System', 'getenv', 'HOME') FROM claims",
    "SELECT input_file_name() FROM claims",
    "SELECT * FROM read_files('/etc')",
    "SELECT * FROM range(10)",
    "SELECT current_user() FROM claims",
    "INSERT INTO claims SELECT * FROM claims",
    "DROP VIEW claims",
    "SELECT * FROM unknown_table",
]


@pytest.mark.parametrize("sql", ATTACKS)
def test_transpiler_refuses_escapes(sql):
    with pytest.raises(QueryRejected) as info:
        to_spark(sql)
    assert "/etc" not in str(info.value) and "evil" not in str(info.value).lower()


def test_denied_functions_cover_reflection_and_files():
    assert {"reflect", "java_method", "input_file_name", "read_files"} <= DENIED_FUNCTIONS


@pytest.mark.parametrize(
    ("duck", "spark_fragment"),
    [
        ("SELECT dayofweek(visit_date) FROM claims", "DAYOFWEEK(visit_date) - 1"),
        ("SELECT isodow(visit_date) FROM claims", "WEEKDAY(visit_date) + 1"),
        ("SELECT date_part('isoyear', visit_date) FROM claims", "EXTRACT(YEAROFWEEK FROM"),
        ("SELECT week(visit_date) FROM claims", "WEEKOFYEAR(visit_date)"),
        ("SELECT date_trunc('week', visit_date) FROM claims", "AS TIMESTAMP_NTZ)"),
        ("SELECT hash(person_id, 's') FROM claims", "MD5(CONCAT_WS('|'"),
        ("SELECT amount / 2 AS h FROM claims", "CAST(amount AS DOUBLE) / 2"),
    ],
)
def test_transpile_keeps_duckdb_meaning(duck, spark_fragment):
    assert spark_fragment in to_spark(duck)


# -- the engine on Spark -----------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(spark_session, spark_warehouse):
    from enclave.engines.spark import SparkEngine

    settings, root = spark_warehouse
    eng = SparkEngine(settings, parquet_dir=root, session=spark_session, conf=SMALL_CONF)
    yield eng
    eng.close()


@pytest.mark.spark
def test_engine_answers_like_duckdb(engine, spark_warehouse):
    settings, _ = spark_warehouse
    sql = (
        "SELECT p.region AS region, count(*) AS n, sum(c.amount) AS s, "
        "dayofweek(min(c.visit_date)) AS d FROM claims c JOIN persons p "
        "ON p.person_id = c.person_id GROUP BY p.region ORDER BY region"
    )
    cols, rows = engine.execute(sql)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    want = con.execute(sql).fetchall()
    con.close()
    assert cols == ("region", "n", "s", "d")
    assert [(r[0], r[1], r[3]) for r in rows] == [(r[0], r[1], r[3]) for r in want]
    assert all(math.isclose(a[2], b[2], rel_tol=1e-9) for a, b in zip(rows, want, strict=True))


@pytest.mark.spark
def test_catalog_holds_only_the_canonical_views(engine):
    tables = {t.name for t in engine._spark.catalog.listTables()}
    assert tables == set(TABLES)
    assert engine._spark.conf.get("spark.sql.runSQLOnFiles") == "false"


@pytest.mark.spark
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM parquet.`/etc`",
        "SET spark.sql.runSQLOnFiles=true",
        "CREATE FUNCTION f AS 'com.example.Evil'",
        "ADD JAR /tmp/evil.jar",
        "SELECT reflect('java.lang.System', 'getProperty', 'user.home') FROM claims",
    ],
)
def test_engine_itself_refuses_escapes(engine, sql):
    with pytest.raises(QueryRejected, match="one SELECT over the warehouse tables"):
        engine.execute(sql)
    assert engine._spark.conf.get("spark.sql.runSQLOnFiles") == "false"


@pytest.mark.spark
def test_spark_errors_are_generic(engine):
    # A query Spark cannot run raises inside Spark; the text never reaches the caller.
    with pytest.raises(QueryRejected) as info:
        engine.execute("SELECT claim_idx AS x FROM claims")
    assert "claim" not in str(info.value).lower() and "c0000" not in str(info.value)
    # ANSI mode is off: a cast that fails on a row gives NULL for it, as DuckDB's TRY does,
    # so no row can make the whole query fail
    _, rows = engine.execute("SELECT CAST(claim_id AS INTEGER) AS x FROM claims")
    assert rows and all(r[0] is None for r in rows)


@pytest.mark.spark
def test_timeout_cancels_the_query(spark_session, spark_warehouse):
    import dataclasses

    from enclave.engines.spark import SparkEngine

    settings, root = spark_warehouse
    slow = dataclasses.replace(settings, query_timeout_s=0.5)
    eng = SparkEngine(slow, parquet_dir=root, session=spark_session, conf=SMALL_CONF)
    try:
        sql = (
            "SELECT count(*) AS n FROM claims a JOIN claims b ON a.person_id = b.person_id "
            "JOIN claims c ON c.person_id = b.person_id JOIN claims d ON d.person_id = c.person_id"
        )
        with pytest.raises(QueryRejected, match="longer than"):
            eng.execute(sql)
    finally:
        eng.close()


def test_stale_export_is_refused(spark_warehouse, tmp_path):
    import os
    import shutil

    from enclave.engines.spark import SparkEngine

    settings, _ = spark_warehouse
    home = tmp_path / "h"
    home.mkdir()
    shutil.copy(settings.warehouse_path, home / "warehouse.duckdb")
    s = Settings(home=home)
    export_parquet(s)
    st = os.stat(s.warehouse_path)
    os.utime(s.warehouse_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(UserError, match="older than the warehouse"):
        SparkEngine(s, session=object())
