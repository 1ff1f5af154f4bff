"""The Python client and ``enclave query --url`` against a real server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import polars as pl
import pytest

from enclave import Client
from enclave.errors import (
    BudgetExhausted,
    Forbidden,
    NotFound,
    PolicyViolation,
    QueryRejected,
    Unauthorized,
    UserError,
)
from tests._api_server import OUTSIDER, RESEARCHER, seeded_server

pytestmark = pytest.mark.slow

SQL = "SELECT region, COUNT(*) AS n FROM persons GROUP BY region"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory, "client-home") as srv:
        yield srv


def test_query_returns_polars_with_error_columns(server):
    with Client(server.url, server.tokens[RESEARCHER]) as c:
        df = c.query(SQL, project="demo", epsilon=0.2)
        assert isinstance(df, pl.DataFrame)
        assert df.columns == ["region", "n", "n_se", "n_ci_low", "n_ci_high"]
        assert (df["n_ci_low"] <= df["n"]).all() and (df["n"] <= df["n_ci_high"]).all()
        assert isinstance(df.to_pandas(), pd.DataFrame)
        assert c.last_release["epsilon_spent"] == pytest.approx(0.2)
        again = c.query(SQL, project="demo", epsilon=0.2)
        assert again.equals(df) and c.last_release["cached"] is True
        assert "token" not in repr(c) and server.tokens[RESEARCHER] not in repr(c)


def test_project_inferred_cost_and_budget(server):
    with Client(server.url, server.tokens[RESEARCHER]) as c:
        assert c.me()["projects"] == ["demo"]
        before = c.budget()["epsilon_spent"]
        est = c.dry_run("SELECT COUNT(*) AS n FROM persons", half_width=5000)
        assert est["epsilon"] > 0 and "n" in est["half_widths"]
        assert c.budget("demo")["epsilon_spent"] == before
        df = c.query("SELECT COUNT(*) AS n FROM persons", half_width=5000)
        assert df.height == 1
        assert c.budget()["epsilon_spent"] == pytest.approx(before + est["epsilon"], abs=1e-5)


@pytest.mark.parametrize(
    ("sql", "project", "kw", "error"),
    [
        ("SELECT * FROM persons", "demo", {}, QueryRejected),
        (SQL, "demo", {"epsilon": 50}, PolicyViolation),
        (SQL, "pharmacy", {"epsilon": 0.1}, Forbidden),
        (SQL, "nope", {"epsilon": 0.1}, NotFound),
        (SQL, "demo", {"epsilon": 0.1, "half_width": 3}, UserError),
    ],
)
def test_errors_mirror_server_types(server, sql, project, kw, error):
    with Client(server.url, server.tokens[RESEARCHER]) as c, pytest.raises(error) as info:
        c.query(sql, project=project, **kw)
    assert info.value.message


def test_bad_token_and_budget_exhausted(server):
    with Client(server.url, "enc_0123456789abcdef.not-a-real-token-at-all") as c:
        with pytest.raises(Unauthorized):
            c.query(SQL, project="demo")
    with Client(server.url, server.tokens[OUTSIDER]) as s:
        with pytest.raises(Forbidden):
            s.budget("demo")
    from enclave.service import Service
    from enclave.store import Principal

    svc = Service(server.settings)
    svc.apply_project(
        Principal(OUTSIDER, "researcher", "t"),
        "drain",
        title="t",
        purpose="p",
        tables=["persons"],
        requested_epsilon=2,
    )
    rules = {"tables": {"persons": ["*"]}, "epsilon": 2, "max_epsilon_per_query": 1}
    svc.approve_project(Principal("steward", "steward", "t"), "drain", rules)
    with Client(server.url, server.tokens[OUTSIDER]) as c:
        with pytest.raises(BudgetExhausted) as info:
            for i in range(4):
                sql = f"SELECT COUNT(*) AS n FROM persons WHERE birth_year > {1900 + i}"
                c.query(sql, "drain", epsilon=1.0)
        assert "remaining" in info.value.message
        assert c.budget("drain")["epsilon_remaining"] == 0


def test_unreachable_server_is_a_user_error():
    with Client("http://127.0.0.1:9", "enc_0123456789abcdef.xxxxxxxxxxxxxxxxxxxx") as c:
        with pytest.raises(UserError, match="Cannot reach"):
            c.budget("demo")


def test_cli_query_over_url(server):
    env = {"ENCLAVE_TOKEN": server.tokens[RESEARCHER], "PATH": ""}
    cmd = [sys.executable, "-m", "enclave", "query", "-", "--project", "demo", "--url", server.url]
    ok = subprocess.run(
        [*cmd, "--epsilon", "0.1", "--json"],
        input=SQL.replace("region", "sex"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["columns"][:2] == ["sex", "n"] and data["epsilon_spent"] >= 0
    bad = subprocess.run(
        [*cmd, "--json"],
        input="DROP TABLE persons",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["error"]["type"] == "QueryRejected"
