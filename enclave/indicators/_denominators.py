"""Denominators: a one-time DP release of the number of persons per region, for rates.

``[denominators]`` in ``policies/indicators.toml`` sets its ε (charged once to the
indicators' project through the budget ledger, reserve then commit, kept in the release
cache under ``denominators/region/1``). The exact counts — persons per region, one row per
person (``persons.region``, a public key set) — are read through the service's sandboxed,
read-only engine; one person is in one region, so the vector of regional counts has L1
sensitivity 1 and every count gets discrete Laplace noise of scale 1/ε (OpenDP; the
measurement's loss is checked against the charge). The release is kept and published as
``denominators`` / ``persons`` in ``published.sqlite`` beside the weekly releases.

Rates per 100,000 divide a week's released count by its region's released denominator;
their 95% interval propagates both standard errors (delta method:
``se(r)² = r² (se_v² / v² + se_d² / d²)``, with ``se_v / d`` for a count of 0).

>>> rows = with_rates([{"region": "A", "value": 10.0, "se": 1.7, "expected": 8.0,
...                     "threshold": 16.0}], {"A": (20000.0, 20.0)})
>>> rows[0]["rate"], rows[0]["rate_ci_low"] < 50 < rows[0]["rate_ci_high"]
(50.0, True)
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from enclave.errors import InternalError, PolicyError
from enclave.indicators._continual import COLUMNS, week_estimates
from enclave.indicators._published import Published, PublishedRelease, published_path
from enclave.settings import Settings

__all__ = ["DENOMINATORS", "denominators_of", "release_denominators", "with_rates"]

DENOMINATORS = "denominators"
_PERIOD, _KEY = "persons", "denominators/region/1"
_PER = 100_000.0


def _epsilon(settings: Settings) -> float:
    path = settings.policies_dir / "indicators.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    eps = data.get("denominators", {}).get("epsilon", 0.2)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps <= 1:
        raise PolicyError("denominators.epsilon must be a number in (0, 1].")
    return float(eps)


def denominators_of(settings: Settings) -> dict[str, tuple[float, float]]:
    """Region → (released persons, SE), or empty before the release."""
    path = published_path(settings.home)
    rec = Published(path).get(DENOMINATORS, _PERIOD) if path.is_file() else None
    if rec is None or rec.status != "published":
        return {}
    idx = {c: i for i, c in enumerate(rec.columns)}
    return {
        str(r[idx["region"]]): (float(r[idx["value"]]), float(r[idx["value_se"]])) for r in rec.rows
    }


def _charge(service: Any, ind: Any, epsilon: float) -> None:
    from enclave.store import BudgetAsk, BudgetLimits

    policy = service.require_member(_principal(ind), ind.project)
    res = service.store.reserve(
        BudgetAsk(
            project=ind.project,
            user=ind.user,
            epsilon=epsilon,
            delta=0.0,
            request_id=uuid.uuid4().hex,
            sql_hash="denominators:region",
            limits=BudgetLimits.from_policy(policy),
        )
    )
    service.store.commit(res, cache_key=_KEY, release={"epsilon": epsilon})


def _principal(ind: Any) -> Any:
    from enclave.store import Principal

    return Principal(user=ind.user, role="researcher", token_id="indicator-scheduler")  # noqa: S106


def release_denominators(service: Any, settings: Settings, ind: Any) -> dict[str, Any]:
    """Release the persons per region once (a second call changes and costs nothing)."""
    from enclave.noise import laplace_int

    pub = Published(published_path(settings.home))
    if pub.get(DENOMINATORS, _PERIOD) is not None:
        return {"released": False, "epsilon_spent": 0.0}
    epsilon = _epsilon(settings)
    keys = tuple(str(v) for v in service.dataset.key_set(ind.key_set).values)
    if service.store.cached_release(ind.project, _KEY) is None:
        _charge(service, ind, epsilon)
    sql = (
        f"SELECT k, COUNT(*) AS n FROM (SELECT person_id, min({ind.key_column}) AS k "
        "FROM persons GROUP BY person_id) AS p GROUP BY k"
    )
    _cols, rows = service.engine.execute(sql)
    exact = {str(k): int(n) for k, n in rows if k is not None}
    seen: list[float] = []
    noisy, scale = laplace_int([exact.get(k, 0) for k in keys], sensitivity=1, epsilon=epsilon,
                               record=lambda e, _d: seen.append(e))  # fmt: skip
    if len(seen) != 1 or seen[0] > epsilon * (1 + 1e-9):
        raise InternalError("the denominator release's loss exceeds its charge (probably a bug)")
    out = tuple((k, *week_estimates(v, scale)) for k, v in zip(keys, noisy, strict=True))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    pub.record(PublishedRelease(DENOMINATORS, _PERIOD, "published", uuid.uuid4().hex, epsilon,
                                "region", now, now, COLUMNS, out,
                                {"unit": "person", "sensitivity": 1, "scale": scale,
                                 "mechanism": "discrete Laplace (OpenDP)"}))  # fmt: skip
    return {"released": True, "epsilon_spent": epsilon, "regions": len(keys)}


def _rate(v: float, se_v: float, d: float, se_d: float) -> tuple[float, float]:
    rate = v / d * _PER
    rel = (se_v / v) ** 2 + (se_d / d) ** 2 if v > 0 else 0.0
    se = rate * math.sqrt(rel) if v > 0 else se_v / d * _PER
    return rate, se


def with_rates(
    rows: Iterable[Mapping[str, Any]], denoms: Mapping[str, tuple[float, float]]
) -> list[dict[str, Any]]:
    """Rows with ``rate`` (per 100,000), its 95% interval and the rates of ``expected`` and
    ``threshold``; unchanged where the region has no (positive) denominator."""
    out = []
    for r in rows:
        row = dict(r)
        d = denoms.get(str(r.get("region")))
        if d is not None and d[0] > 0 and row.get("value") is not None:
            rate, se = _rate(float(row["value"]), float(row.get("se") or 0.0), *d)
            row.update(rate=rate, rate_ci_low=max(0.0, rate - 1.96 * se),
                       rate_ci_high=rate + 1.96 * se, denominator=d[0])  # fmt: skip
            for name in ("expected", "threshold"):
                if row.get(name) is not None:
                    row[f"{name}_rate"] = float(row[name]) / d[0] * _PER
        out.append(row)
    return out
