"""Every ε used is an ε charged (issue 11, point 1), for named collisions and random queries.

The gateway's stages run under ``OpenDPLedger``, which records each OpenDP measurement
that touches data and recomputes its privacy loss from OpenDP's own map. A release must
state one ε per noised piece (``mechanisms.epsilon_split``), those ε must add up to the ε
charged, the measurements that ran must not use more than that, and δ is spent only with
private keys.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.errors import UserError
from enclave.gateway import GatewayContext, Release
from tests._dp_gateway import OpenDPLedger, Releases, gateway_context
from tests._hypothesis import gateway_examples
from tests._warehouse import build
from tests.generative.test_gateway_generative import queries

INTERNAL = ("auto_rows_bound", "__key_selection", "key_selection")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> GatewayContext:
    d = tmp_path_factory.mktemp("acct")
    return gateway_context(build(d / "w.duckdb", persons=300, seed=3), d, max_epsilon=1.0)


def _release(sql: str, ctx: GatewayContext, eps: float, ledger: OpenDPLedger) -> Release:
    return Releases(sql, ctx, eps).one()


def _check_accounting(release: Release, ledger: OpenDPLedger) -> None:
    charged = release.epsilon_spent
    split = release.mechanisms["epsilon_split"]
    used, delta = ledger.spent()
    seen = f"charged ε = {charged:g}, measurements used ε = {used:.6g}, split {split}"
    assert isinstance(split, dict) and split, f"the release states no ε split: {seen}"
    assert all(isinstance(v, float | int) for v in split.values()), seen
    assert sum(split.values()) == pytest.approx(charged, rel=1e-9), seen
    assert used <= charged * (1 + 1e-9), seen
    assert len(ledger.runs()) == len(split), (
        f"{len(ledger.runs())} noised pieces ran, the release states {len(split)}"
    )
    assert delta <= release.delta_spent * (1 + 1e-9) + 1e-15
    if not release.bounds.get("private_keys"):
        assert release.delta_spent == 0.0


def _check_columns(release: Release) -> None:
    """Every aggregate column is served by mechanism entries of its own, none shared."""
    aggs = [c for c in release.columns if f"{c}_se" in release.columns]
    by_column = release.mechanisms.get("columns")
    if isinstance(by_column, dict):  # pieces with identities: column label -> piece ids
        assert sorted(by_column) == sorted(aggs), (sorted(by_column), aggs)
        ids = [i for col in aggs for i in by_column[col]]
        assert len(ids) == len(set(ids)), f"a piece serves two columns: {by_column}"
        split = release.mechanisms["epsilon_split"]
        assert set(ids) <= set(split), f"a column's piece has no ε: {by_column}, {split}"
        for col in aggs:
            assert by_column[col], f"column {col!r} has no mechanism entry"
            for i in by_column[col]:
                assert i in release.mechanisms or i in split, f"piece {i!r} not described"
        return
    entries = [k for k in release.mechanisms if k != "epsilon_split"]
    split = list(release.mechanisms["epsilon_split"])
    for name in {*entries, *split}:
        owners = [a for a in aggs if name == a or name.startswith(f"{a}.")]
        internal = name in INTERNAL
        assert len(owners) + internal <= 1, f"piece {name!r} is claimed by {owners}"
    for a in aggs:
        mine = [k for k in entries if k == a or k.startswith(f"{a}.")]
        assert mine or "key_selection" in entries, f"column {a!r} has no mechanism entry"


COLLISIONS = [
    ("SELECT setting, COUNT(*) AS auto_rows_bound FROM claims GROUP BY setting", 0.5),
    ("SELECT icd10, SUM(amount) AS __key_selection FROM claims GROUP BY icd10", 1.0),
    ('SELECT AVG(amount) AS m, COUNT(*) AS "m.count" FROM claims', 0.5),
    ("SELECT COUNT(*) AS epsilon_split FROM claims", 0.5),
]


@pytest.mark.parametrize("sql,eps", COLLISIONS, ids=["auto", "selection", "avg_part", "split"])
def test_aliases_cannot_collide_with_internal_pieces(
    sql: str, eps: float, ctx: GatewayContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = OpenDPLedger().install(monkeypatch)
    release = _release(sql, ctx, eps, ledger)
    _check_accounting(release, ledger)
    _check_columns(release)


@gateway_examples(40)
@given(sql=queries(), eps=st.sampled_from([0.1, 0.5, 1.0]))
def test_random_accepted_queries_spend_what_they_are_charged(
    sql: str, eps: float, ctx: GatewayContext
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        ledger = OpenDPLedger().install(mp)
        try:
            release = _release(sql, ctx, eps, ledger)
        except UserError:
            return
        _check_accounting(release, ledger)
        _check_columns(release)
