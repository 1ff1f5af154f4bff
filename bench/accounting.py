"""Benchmark: one researcher's session under pure ε-DP and under zCDP, at equal SE.

A session is ``--queries`` COUNT(*) queries (a fixed bound of ``--rows`` rows per person),
each asked at ε = ``--epsilon`` in a pure project: each release gets discrete Laplace
noise, and basic composition charges the session N·ε. In a project with
``accounting = "zcdp"`` each query is asked at the per-release ε whose ρ gives discrete
Gaussian noise of the *same standard error*: σ = SE of the Laplace, ρ = c²/(2σ²) a query;
ρ adds up exactly, and the session's N·ρ is shown as the ε that OpenDP's conversion
(``make_zCDP_to_approxDP`` then ``make_fix_delta``) gives at δ = ``--delta``. The zcdp
project's δ is 2 × ``--delta``: half of it is that conversion δ, half is left to private
keys (``enclave.policy.KEYS_DELTA_SHARE``), so its promise covers both.

Two parts: the figures from the accounting alone, and (unless ``--no-gateway``) the same
two sessions through the gateway on a synthetic warehouse (``--persons``), with every
charge read back from the metadata store's ledger and the SE from the releases.

    .venv/bin/python bench/accounting.py                     # 100 queries at ε = 0.1
    .venv/bin/python bench/accounting.py --no-gateway --json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import build_warehouse, code_version
from enclave.noise import discrete_gaussian_std, discrete_laplace_std
from enclave.policy import KEYS_DELTA_SHARE, Accounting

__all__ = ["computed", "main", "measured"]


def _zcdp(delta: float) -> Accounting:
    """A zcdp project whose conversion δ is ``delta``."""
    return Accounting("zcdp", delta / (1.0 - KEYS_DELTA_SHARE))


def computed(queries: int, epsilon: float, delta: float, rows: int) -> dict[str, Any]:
    """The session's figures from the accounting alone (no data).

    >>> out = computed(100, 0.1, 1e-6, 1)
    >>> out["pure_epsilon_total"], round(out["zcdp_rho_total"], 4), round(out["zcdp_epsilon_total"], 2)
    (10.0, 0.2502, 3.54)
    """
    se = discrete_laplace_std(rows / epsilon)
    rho = rows * rows / (2.0 * se * se)  # σ = se: the Gaussian of the same standard error
    acc = _zcdp(delta)
    return {
        "queries": queries,
        "rows_per_person": rows,
        "se_per_query": se,
        "pure_epsilon_per_query": epsilon,
        "pure_epsilon_total": round(queries * epsilon, 12),
        "zcdp_rho_per_query": rho,
        "zcdp_epsilon_per_query": acc.epsilon(rho),
        "zcdp_rho_total": queries * rho,
        "zcdp_epsilon_total": acc.epsilon(queries * rho),
        "delta": delta,
        "zcdp_project_delta": acc.delta,
    }


def _context(settings: Any, rows: int, delta: float) -> Any:
    from enclave.service import open_context

    ctx = open_context(settings)
    ds = dataclasses.replace(
        ctx.dataset,
        contribution=dataclasses.replace(ctx.dataset.contribution, rows_per_person=rows),
    )
    pure = dataclasses.replace(ctx.projects["demo"], review_epsilon=None)
    zcdp = dataclasses.replace(pure, id="demo-zcdp", accounting="zcdp", delta=_zcdp(delta).delta)
    return dataclasses.replace(ctx, dataset=ds, projects={"demo": pure, "demo-zcdp": zcdp})


def _session(ctx: Any, project: str, queries: int, epsilon: float) -> dict[str, Any]:
    from enclave.gateway import QueryRequest, answer
    from enclave.store import BudgetLimits

    user = ctx.projects[project].members[0]
    ses = []
    for i in range(queries):
        sql = f"SELECT COUNT(*) AS n FROM claims WHERE amount > {i}"
        release = answer(QueryRequest(sql, project, user, epsilon=epsilon), ctx)
        ses.append(float(release.rows[0][release.columns.index("n_se")]))
    status = ctx.store.budget(project, BudgetLimits.from_policy(ctx.projects[project]))
    return {"se_min": min(ses), "se_max": max(ses), "budget": status.to_json()}


def measured(
    settings: Any, queries: int, epsilon: float, delta: float, rows: int
) -> dict[str, Any]:
    """Both sessions through the gateway; charges as the ledger holds them."""
    ctx = _context(settings, rows, delta)
    try:
        want = computed(queries, epsilon, delta, rows)
        pure = _session(ctx, "demo", queries, epsilon)
        zcdp = _session(ctx, "demo-zcdp", queries, want["zcdp_epsilon_per_query"])
    finally:
        ctx.engine.close()
    return {
        "pure_se": [pure["se_min"], pure["se_max"]],
        "zcdp_se": [zcdp["se_min"], zcdp["se_max"]],
        "zcdp_se_expected": discrete_gaussian_std(want["se_per_query"]),
        "pure_epsilon_spent": pure["budget"]["epsilon_spent"],
        "zcdp_rho_spent": zcdp["budget"]["rho_spent"],
        "zcdp_epsilon_spent": zcdp["budget"]["epsilon_spent"],
        "zcdp_conversion_delta": zcdp["budget"]["conversion_delta"],
    }


def _print(out: dict[str, Any]) -> None:
    c = out["computed"]
    print(f"{c['queries']} COUNT queries, {c['rows_per_person']} row(s) per person, SE "
          f"{c['se_per_query']:.4g} each (equal in both):")  # fmt: skip
    print(f"  pure ε-DP: ε = {c['pure_epsilon_per_query']:g} a query; basic composition: "
          f"total ε = {c['pure_epsilon_total']:g} (δ = 0)")  # fmt: skip
    print(f"  zCDP: ρ = {c['zcdp_rho_per_query']:.4g} a query (ε = "
          f"{c['zcdp_epsilon_per_query']:.3g} alone); ρ adds up: total ρ = "
          f"{c['zcdp_rho_total']:.4g} → ε = {c['zcdp_epsilon_total']:.3f} at δ = "
          f"{c['delta']:g} (OpenDP's conversion)")  # fmt: skip
    ratio = c["pure_epsilon_total"] / c["zcdp_epsilon_total"]
    print(f"  the same session costs {ratio:.2f}× less ε under zCDP")
    m = out.get("measured")
    if m:
        print(f"through the gateway ({out['persons']} persons), as the ledger holds it:")
        print(f"  pure: ε spent {m['pure_epsilon_spent']:g}; SE {m['pure_se'][0]:.4g}")
        print(f"  zcdp: ρ spent {m['zcdp_rho_spent']:.6g} → ε spent "
              f"{m['zcdp_epsilon_spent']:.3f} at δ = {m['zcdp_conversion_delta']:g}; SE "
              f"{m['zcdp_se'][0]:.4g}")  # fmt: skip


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--epsilon", type=float, default=0.1, help="pure ε per query")
    ap.add_argument("--delta", type=float, default=1e-6, help="δ of the zCDP conversion")
    ap.add_argument("--rows", type=int, default=1, help="rows per person (fixed bound)")
    ap.add_argument("--persons", type=int, default=2000)
    ap.add_argument("--home", type=Path, default=None, help="reuse/keep the enclave here")
    ap.add_argument("--no-gateway", action="store_true", help="the computed figures only")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    if a.queries * a.epsilon > 10.0 + 1e-9 and not a.no_gateway:
        raise SystemExit("the demo project allows ε = 10 in all: lower --queries × --epsilon")
    out: dict[str, Any] = {
        "code": code_version(),
        "computed": computed(a.queries, a.epsilon, a.delta, a.rows),
        "persons": a.persons,
    }
    if not a.no_gateway:
        with tempfile.TemporaryDirectory() as tmp:
            home = a.home or Path(tmp)
            settings = build_warehouse(home, a.persons, seed=1, quiet=a.json)
            out["measured"] = measured(settings, a.queries, a.epsilon, a.delta, a.rows)
    if a.json:
        print(json.dumps(out))
    else:
        _print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
