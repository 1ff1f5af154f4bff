"""bench/accounting.py: its doctests, and the computed figures as --json prints them."""

from __future__ import annotations

import contextlib
import doctest
import io
import json

from bench import accounting


def test_doctests() -> None:
    assert doctest.testmod(accounting).failed == 0


def test_computed_figures_as_json() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert accounting.main(["--no-gateway", "--json"]) == 0
    got = json.loads(out.getvalue())["computed"]
    assert got["queries"] == 100 and got["pure_epsilon_total"] == 10.0
    assert 3.4 < got["zcdp_epsilon_total"] < 3.7 and got["delta"] == 1e-6
    assert got["zcdp_project_delta"] == 2e-6
