"""MEDIAN / QUANTILE_CONT, the SQL half: a bounded value histogram per group (released by
``release.quantiles``).

**Grid.** A quantile aggregate's clamped argument lies in ``[lo, hi]``; the candidates are
evenly spaced in it: every integer when ``hi - lo`` is a whole number ≤ 1,000 (e.g.
``los_days``), else 1,001 points. Each value becomes a *slot*: ``2i`` when it equals
candidate ``i``, ``2i + 1`` when it lies strictly between candidates ``i`` and ``i + 1``.
OpenDP's quantile score only counts values below / above each candidate, so scoring the
slots (candidates = even slots) is scoring the values.

**Bounding.** The same as the totals: at most ``g`` groups per person, chosen by the salted
portable hash of (person, key), and at most ``c`` rows in all, given to the groups in that
order. Inside a group the kept rows are taken slot by slot in the order of a salted hash
of (person, key, slot), so which values are kept does not depend on their size. A person
therefore adds at most ``c`` rows to a group's histogram (``d_in = c``, symmetric distance)
and at most ``c`` rows over all groups.

>>> grid(0.0, 60.0)
(0.0, 1.0, 61)
>>> grid(0.0, 20000.0)
(0.0, 20.0, 1001)
"""

from __future__ import annotations

from enclave.engines.hashing import portable_hash
from enclave.gateway.values import Aggregate

__all__ = ["MAX_CANDIDATES", "grid", "quantile_sql"]

MAX_CANDIDATES = 1001


def grid(lo: float, hi: float) -> tuple[float, float, int]:
    """(first candidate, step, number of candidates) for values clamped to [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return lo, 1.0, 1
    if float(span).is_integer() and float(lo).is_integer() and span < MAX_CANDIDATES:
        return lo, 1.0, int(span) + 1
    return lo, span / (MAX_CANDIDATES - 1), MAX_CANDIDATES


def _slot(col: str, lo: float, step: float) -> str:
    t = f"(({col} - {lo!r}) / {step!r})"
    return (
        f"CASE WHEN {col} IS NULL THEN -1 ELSE CAST(2 * FLOOR({t}) AS BIGINT) + "
        f"CASE WHEN {t} = FLOOR({t}) THEN 0 ELSE 1 END END"
    )


def quantile_sql(
    input_ctes: str, *, n_keys: int, agg: Aggregate, rows: int, groups: int, salt: str
) -> str:
    """Bounded histogram of one quantile argument: rows ``(keys…, slot, count)``.

    ``input_ctes`` is ``"__rel AS (…), __in AS (…)"`` from ``sql.bounded``.
    """
    keys = [f"__k{i}" for i in range(n_keys)]
    kl = "".join(f"{k}, " for k in keys)
    lo, step, _ = grid(agg.lower or 0.0, agg.upper or 0.0)
    group_order = ", ".join([portable_hash("__pid", *keys, f"'{salt}'"), *keys])
    slot_order = portable_hash("__pid", *keys, "__slot", f"'{salt}'")
    by_group = ", ".join(["__pid", *keys])
    return (
        f"WITH {input_ctes}, "
        f"__ps AS (SELECT __pid, {kl}{_slot(str(agg.sql), lo, step)} AS __slot, "
        f"count(*) AS __m FROM __in GROUP BY {by_group}, __slot), "
        f"__pg AS (SELECT {by_group}, sum(__m) AS __n FROM __ps GROUP BY {by_group}), "
        f"__pp AS (SELECT __pid, sum(__n) > {rows} OR count(*) > {groups} AS __over "
        f"FROM __pg GROUP BY __pid), "
        f"__ok AS (SELECT {kl}__slot, __m AS __t FROM __ps SEMI JOIN (SELECT __pid FROM __pp "
        f"WHERE NOT __over) AS u USING (__pid)), "
        f"__ov AS (SELECT __ps.* FROM __ps SEMI JOIN (SELECT __pid FROM __pp WHERE __over) "
        f"AS o USING (__pid)), "
        f"__gw AS (SELECT *, dense_rank() OVER (PARTITION BY __pid ORDER BY {group_order}) "
        f"AS __g, sum(__m) OVER (PARTITION BY __pid ORDER BY {group_order}) AS __cum, "
        f"sum(__m) OVER (PARTITION BY {by_group}) AS __n, COALESCE(sum(__m) OVER (PARTITION "
        f"BY {by_group} ORDER BY {slot_order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 "
        f"PRECEDING), 0) AS __before FROM __ov), "
        f"__tk AS (SELECT {kl}__slot, LEAST(__m, GREATEST(LEAST(__n, GREATEST({rows} - "
        f"(__cum - __n), 0)) - __before, 0)) AS __t FROM __gw WHERE __g <= {groups}) "
        f"SELECT {kl}__slot, CAST(sum(__t) AS BIGINT) AS __cnt FROM (SELECT * FROM __ok "
        f"UNION ALL SELECT * FROM __tk) AS __all WHERE __slot >= 0 GROUP BY {kl}__slot "
        f"HAVING sum(__t) > 0"
    )
