"""The "auto" value clamp on awkward data: values far below 1 (no float underflow in the
choice), and persons whose rows mix cheap and dear claims (the histogram bins rows, not a
person's mean, so the clamp's bias is seen)."""

from __future__ import annotations

import statistics
from pathlib import Path

import duckdb
import pytest

from enclave.errors import InternalError
from tests._warehouse import build, context, front, run


@pytest.fixture(scope="module")
def heavy_tailed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("clamp-review")
    path = build(root / "w.duckdb", persons=5000, heavy_rows=20)
    con = duckdb.connect(str(path))
    con.execute("SELECT setseed(0.5)")
    con.execute(  # inpatient claims: log-normal(10.5, 1), as in the real warehouse
        "UPDATE claims SET amount = round(exp(10.5 + sqrt(-2 * ln(random())) * "
        "cos(2 * pi() * random())), 2) WHERE setting = 'inpatient'"
    )
    exact = con.execute("SELECT sum(amount) FROM claims").fetchone()[0]
    con.close()
    return context(path, root), exact


def test_a_tiny_scaled_amount_is_released_or_refused_not_an_internal_error(tmp_path: Path):
    ctx = context(build(tmp_path / "w.duckdb", persons=300), tmp_path)
    for _ in range(3):
        try:
            run(front("SELECT SUM(amount * 1e-170) AS s FROM claims", ctx, epsilon=1.0), ctx)
        except InternalError as exc:
            pytest.fail(f"internal error: {exc!r} from {exc.__cause__!r}")
        except Exception as exc:
            assert not isinstance(exc, ZeroDivisionError), exc


def test_mixed_rows_get_a_clamp_whose_bias_is_seen(heavy_tailed):
    """A person's claims mix cheap outpatient and dear inpatient rows: the histogram bins
    rows, so the clamp chosen sees the dear rows. Binning a person's mean value chose
    50,000 every time, which takes 35% of the money off; 5,000 persons at ε = 1 leave
    noise in the choice, so the median over five releases is what is checked."""
    ctx, exact = heavy_tailed
    offs = []
    for _ in range(5):
        r = run(front("SELECT SUM(amount) AS m FROM claims", ctx, epsilon=1.0), ctx).release
        u = r.mechanisms["a0.clamp"]["clamp"]
        ((kept,),) = ctx.engine.execute_raw(f"SELECT sum(least(amount, {u})) FROM claims")[1]
        offs.append((exact - kept) / exact)
    assert statistics.median(offs) <= 0.15, f"the clamps chosen take off {offs}"
