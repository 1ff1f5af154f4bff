"""Released group keys carry nothing but the group: one form per key, whatever the row order.

The engine groups ``-0.0`` with ``0.0`` (and every NaN together) but keeps the form of the
first row it meets. With the added person stored first, a key expression that gives that
person ``-0.0`` would show ``-0.0`` in the release only when they are present: a
noise-free yes/no about one person. The gateway releases the canonical form.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from enclave.gateway import QueryRequest, answer
from tests._neighbours import Pair, pair_fixture

WHO = "p.region = 'Lienchiang'"
QUERIES = [
    f"SELECT CASE WHEN {WHO} THEN -0.0 ELSE 0.0 END AS k, COUNT(DISTINCT p.person_id) AS n "
    "FROM persons p GROUP BY 1",
    f"SELECT CASE WHEN {WHO} THEN -0.0 ELSE 0.0 END AS k, COUNT(*) AS n "
    "FROM claims c JOIN persons p ON p.person_id = c.person_id GROUP BY 1",
    f"SELECT CASE WHEN {WHO} THEN CAST('-nan' AS DOUBLE) ELSE CAST('nan' AS DOUBLE) END AS k, "
    "COUNT(DISTINCT p.person_id) AS n FROM persons p GROUP BY 1",
]


pair_first = pair_fixture("keys", name="pair_first", first=True)


def _keys(ctx: Any, sql: str) -> list[str]:
    request = QueryRequest(sql=sql, project="demo", user="researcher@demo", epsilon=1.0)
    try:
        release = answer(request, ctx)
    except Exception as exc:  # refused the same way on both sides is fine for this test
        return [type(exc).__name__]
    return [repr(row[0]) for row in release.rows]


def _canonical(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return True
    return not (value == 0.0 and math.copysign(1.0, value) < 0)


@pytest.mark.parametrize("sql", QUERIES)
def test_key_forms_do_not_depend_on_one_person(sql: str, pair_first: Pair) -> None:
    without, with_ = (_keys(ctx, sql) for ctx in pair_first.both())
    assert all(_canonical(k) for k in without + with_), "a released key has a row-order form"
    assert set(with_) - set(without) <= {"nan"}  # the canonical forms only


def test_add_noise_releases_the_canonical_form_of_a_key(pair_first: Pair) -> None:
    """Whatever form the engine hands back (``-0.0`` first met), the release shows ``0.0``."""
    import dataclasses

    from enclave.gateway.pipeline import BACK, FRONT
    from enclave.gateway.release.noise import add_noise
    from enclave.gateway.values import Exact, Requested

    ctx = pair_first.with_
    # a private key (amount has no public domain; a key over persons only would be public)
    sql = (
        f"SELECT CASE WHEN {WHO} AND c.amount >= 0 THEN -0.0 ELSE 0.0 END AS k, "
        "COUNT(DISTINCT p.person_id) AS n FROM claims c JOIN persons p "
        "ON p.person_id = c.person_id GROUP BY 1"
    )
    request = QueryRequest(sql=sql, project="demo", user="researcher@demo", epsilon=0.7)
    state: Any = Requested(request=request)
    for stage in (*FRONT, *BACK[:-1]):
        state = stage(state, ctx)
    exact = state.exact
    rows = [(-0.0, *r[1:]) if r[0] == 0 else r for r in exact.rows]
    state = dataclasses.replace(state, exact=Exact(exact.columns, rows, {}))
    released = add_noise(state, ctx).release
    assert [repr(r[0]) for r in released.rows] == ["0.0"]


def test_private_keys_come_back_in_a_stable_order(
    pair_first: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever order the engine groups in, released private keys are sorted. The noisy
    threshold still runs (and is accounted); here every key is then kept, so the test
    does not depend on which keys the noise lets through."""
    from enclave.gateway.release import noise

    real = noise.threshold_counts

    def keep_all(counts: dict[str, int], **kw: Any) -> dict[str, int]:
        real(counts, **kw)
        return dict(counts)

    monkeypatch.setattr(noise, "threshold_counts", keep_all)
    sql = "SELECT c.icd10, COUNT(DISTINCT c.person_id) AS n FROM claims c GROUP BY c.icd10"
    request = QueryRequest(sql=sql, project="demo", user="researcher@demo", epsilon=0.9)
    keys = [row[0] for row in answer(request, pair_first.without).rows]
    assert len(keys) > 1
    assert keys == sorted(keys, key=lambda k: (k is None, "" if k is None else k))
