"""Denominators: one-time DP releases of the persons per region and per 10-year age band.

``[denominators]`` in ``policies/indicators.toml`` sets their ε: ``epsilon`` for the
persons per region (0.2), ``age_band_epsilon`` for the persons per age band (0.1). Each is
one query through the gateway, asked as the indicators' service account in the indicators'
project (whose policy must allow ``persons.region`` and ``persons.birth_year``)::

    SELECT region, COUNT(*) AS persons FROM persons GROUP BY region
    SELECT FLOOR((Y - birth_year) / 10) * 10 AS age_band, COUNT(*) AS persons
    FROM persons GROUP BY age_band

with ``Y`` the year of the last week of the ``weeks`` key set (the age reached that year).
Both keys are public (regions a listed key set, the age band derived from birth_year's
public domain), so every region and every band is released, zero or not; one row per
person makes the L1 sensitivity 1 and each count gets discrete Laplace noise of scale 1/ε.
The gateway authorises the columns, checks the measured loss against the charge, charges
the project's ledger once and audits it; asking again returns its cached release at no
cost. The releases are published as ``denominators`` / ``persons`` and ``denominators`` /
``persons-by-age`` in ``published.sqlite`` beside the weekly releases.

Rates per 100,000 divide a week's released count by its region's released denominator;
their 95% interval propagates both standard errors (delta method:
``se(r)² = r² (se_v² / v² + se_d² / d²)``, with ``se_v / d`` for a count of 0). No
indicator is released per age band, so the age bands are context (who the population is),
not denominators of a rate.

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

from enclave.errors import PolicyError
from enclave.indicators._bands import AGE_PERIOD, REGION_PERIOD, age_sql, reference_year
from enclave.indicators._published import Published, PublishedRelease, published_path
from enclave.settings import Settings

__all__ = ["DENOMINATORS", "denominators_of", "release_denominators", "with_rates"]

DENOMINATORS = "denominators"
_PER = 100_000.0
_VALUE = ("value", "value_se", "value_ci_low", "value_ci_high")


def _epsilons(settings: Settings) -> dict[str, float]:
    path = settings.policies_dir / "indicators.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    spec = data.get("denominators", {})
    out = {}
    for name, default in (("epsilon", 0.2), ("age_band_epsilon", 0.1)):
        eps = spec.get(name, default)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps <= 1:
            raise PolicyError(f"denominators.{name} must be a number in (0, 1].")
        out[name] = float(eps)
    return out


def denominators_of(settings: Settings) -> dict[str, tuple[float, float]]:
    """Region → (released persons, SE), or empty before the release."""
    path = published_path(settings.home)
    rec = Published(path).get(DENOMINATORS, REGION_PERIOD) if path.is_file() else None
    if rec is None or rec.status != "published":
        return {}
    idx = {c: i for i, c in enumerate(rec.columns)}
    return {
        str(r[idx["region"]]): (float(r[idx["value"]]), float(r[idx["value_se"]])) for r in rec.rows
    }


def _principal(ind: Any) -> Any:
    from enclave.store import Principal

    return Principal(user=ind.user, role="researcher", token_id="indicator-scheduler")  # noqa: S106


def _release(service: Any, ind: Any, sql: str, epsilon: float) -> dict[str, Any]:
    """One gateway release as the indicators' account (cached: a repeat costs nothing)."""
    return dict(service.query(_principal(ind), sql, ind.project, epsilon=epsilon))


def _publish(pub: Published, period: str, key: str, got: dict[str, Any]) -> None:
    rows = tuple((r[0], *r[1:5]) for r in got["rows"])
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    piece = next(iter(got["mechanisms"]["epsilon_split"]))
    details = got["mechanisms"][piece]
    accounting = {"unit": "person", "sensitivity": details.get("sensitivity"),
                  "scale": details.get("scale"), "mechanism": details.get("mechanism"),
                  "gateway_release": got.get("release_id")}  # fmt: skip
    pub.record(PublishedRelease(DENOMINATORS, period, "published", uuid.uuid4().hex,
                                float(got.get("epsilon_spent") or 0.0), key, now, now,
                                (key, *_VALUE), rows, accounting))  # fmt: skip


def release_denominators(service: Any, settings: Settings, ind: Any) -> dict[str, Any]:
    """Release the persons per region and per age band once each (a second call changes
    and costs nothing); what was released and the ε it spent."""
    pub = Published(published_path(settings.home))
    eps = _epsilons(settings)
    year = reference_year(service.dataset, ind.period_key_set)
    asks = (
        (REGION_PERIOD, ind.key_column, eps["epsilon"],
         f"SELECT {ind.key_column}, COUNT(*) AS persons FROM persons GROUP BY {ind.key_column}"),
        (AGE_PERIOD, "age_band", eps["age_band_epsilon"], age_sql(year)),
    )  # fmt: skip
    spent, done = 0.0, []
    for period, key, epsilon, sql in asks:
        if pub.get(DENOMINATORS, period) is not None:
            continue
        got = _release(service, ind, sql, epsilon)
        spent += float(got.get("epsilon_spent") or 0.0)
        _publish(pub, period, key, got)
        done.append(period)
    return {"released": bool(done), "releases": done, "epsilon_spent": round(spent, 6),
            "age_reference_year": year}  # fmt: skip


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
