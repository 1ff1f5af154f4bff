"""The DuckDB engine's sandbox refuses what the front half already refuses (defence in depth)."""

from __future__ import annotations

import duckdb
import pytest

from enclave.engines.duckdb import DuckDBEngine
from enclave.errors import QueryRejected
from enclave.settings import Settings


@pytest.fixture()
def engine(tmp_path):
    wh = tmp_path / "w.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    con.close()
    (tmp_path / "secret.csv").write_text("a,b\n1,2\n")
    eng = DuckDBEngine(wh, Settings(home=tmp_path, query_timeout_s=1.0, memory_limit="256MB"))
    yield eng
    eng.close()


def test_runs_a_select(engine):
    cols, rows = engine.execute("SELECT count(*) AS n FROM t")
    assert cols == ("n",) and rows == [(1000,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('{csv}')",
        "SELECT * FROM '{csv}'",
        "COPY t TO '{out}'",
        "ATTACH '{db}' AS other",
        "SET memory_limit = '8GB'",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE u (x INT)",
        "INSERT INTO t VALUES (1)",
        "DELETE FROM t",
        "SELECT * FROM read_text('{csv}')",
    ],
)
def test_refuses_escape_hatches(engine, tmp_path, sql):
    text = sql.format(
        csv=tmp_path / "secret.csv", out=tmp_path / "out.csv", db=tmp_path / "other.duckdb"
    )
    with pytest.raises(QueryRejected) as err:
        engine.execute(text)
    assert "duckdb" not in err.value.message.lower()
    assert not (tmp_path / "out.csv").exists()
    assert not (tmp_path / "other.duckdb").exists()


def test_settings_stay_locked(engine):
    with pytest.raises(QueryRejected):
        engine.execute("SET threads = 1")
    _, rows = engine.execute("SELECT current_setting('enable_external_access')")
    assert rows == [(False,)]


def test_timeout_interrupts(engine):
    with pytest.raises(QueryRejected) as err:
        engine.execute("SELECT count(*) FROM range(100000000000) a")
    assert "longer than 1 s" in err.value.message


def test_error_text_never_leaks(engine):
    with pytest.raises(QueryRejected) as err:
        engine.execute("SELECT CAST('value-xyz' AS INTEGER)")
    assert "value-xyz" not in err.value.message
    assert "simplify" in err.value.message


def test_execute_raw_is_the_same_sandbox(engine, tmp_path):
    assert engine.execute_raw("SELECT 1")[1] == [(1,)]
    with pytest.raises(QueryRejected):
        engine.execute_raw(f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')")
