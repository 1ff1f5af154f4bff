"""One pass for an "auto" rows bound: the per-person histogram and the totals for every c.

With ``rows_per_person = "auto"`` the bound ``c`` is chosen with DP from the per-person
row counts (``release.bound``), so it is known only after the data are read. Instead of reading the relation twice
(once for the histogram, once to bound with the chosen ``c``), one query returns both:

* part 1: the histogram ``(least(N, cap), persons)`` of rows per person ``N``;
* part 0: buckets ``(keys…, b, nb, cnt, Σ s/n …)`` of the (person, key) rows, where ``b``
  is the rows the person gave to earlier groups (in salted-hash order), ``nb`` the row
  count ``n`` capped at ``cap + 1`` and ``cnt`` the number of (person, key) rows. For any
  ``c ≤ cap`` a (person, key) row keeps ``w = least(n, greatest(c − b, 0))`` rows — the
  rule of ``sql.bounded.bounded_sql`` — and ``w`` is the same for the whole bucket
  (``least(nb, c − b) = c − b`` when ``n > cap``), so ``totals_at(c)`` rebuilds exactly
  the bounded totals from the buckets.

Without GROUP BY each person is one group: ``GROUP BY person``, ``b = 0``, no window.
Otherwise (persons-only keys included, so that a NULL key is filed exactly as
``bounded_sql`` files it) persons with one group skip the window; the others are ranked
as in ``bounded_sql``. Bucket totals are exact integer sums of the persons' shares.

>>> rows = [(0, "a", 0, 5, 2, 10), (0, "a", 3, 2, 1, 4), (1, None, None, 7, 3, None)]
>>> totals_at(rows, n_keys=1, stats=[("count", None), ("sum", "__a0")], c=4)
[('a', 9, 44)]
>>> histogram(rows, n_keys=1)
([7], [3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from enclave.engines.hashing import portable_hash
from enclave.gateway.sql.bounded import (
    GROUP_STATS,
    KEPT_STATS,
    Stat,
    bin_share_sql,
    group_total_sql,
    input_ctes,
    pre_cols,
    pre_indices,
    share_sql,
    stats_for,
)

__all__ = ["auto_totals_sql", "histogram", "totals_at"]


def _bucket_cols(stats: Sequence[Stat]) -> list[str]:
    out = []
    sts = stats_for(stats)
    for i in pre_indices(stats):
        if sts[i].stat == "bin":  # Σ of the shares in the bin: w·Σt is its kept rows (1/K)
            out.append(f"CAST(sum({bin_share_sql(i)}) AS BIGINT) AS __t{i}")
        elif sts[i].stat in KEPT_STATS:  # a share's clamp needs c: read after it is chosen
            kind = "BIGINT" if sts[i].stat == "kbin" else "DECIMAL(38, 0)"
            out.append(f"CAST(0 AS {kind}) AS __t{i}")
        elif sts[i].stat in GROUP_STATS:  # once per (person, group) kept at c (w > 0)
            total = f"CAST({group_total_sql(sts[i], i)} AS DECIMAL(38, 0))"
            out.append(f"CAST(sum({total}) AS DECIMAL(38, 0)) AS __t{i}")
        elif sts[i].stat == "distinct":
            out.append(f"CAST(count(*) FILTER (WHERE __s{i} > 0) AS BIGINT) AS __t{i}")
        else:  # Σ of the persons' integer shares t: w·Σt is then exact for every c
            out.append(
                f"CAST(sum(CAST({share_sql(sts[i], i)} AS DECIMAL(38, 0))) AS DECIMAL(38, 0))"
                f" AS __t{i}"
            )
    return out


def auto_totals_sql(
    relation: str,
    *,
    n_keys: int,
    stats: Sequence[Stat],
    groups: int,
    salt: str,
    key_filters: Sequence[str],
    cap: int,
) -> str:
    """The one-pass query: bucket rows (part 0) and the rows-per-person histogram (part 1)."""
    keys = [f"__k{i}" for i in range(n_keys)]
    kl = "".join(f"{k}, " for k in keys)
    pre = ", ".join(["count(*) AS __n", *pre_cols(stats)])
    s_cols = "".join(f", __s{i}" for i in pre_indices(stats))
    t_cols = [f"__t{i}" for i in pre_indices(stats)]
    head = f"WITH {input_ctes(relation, key_filters)}"
    bucket_by = ", ".join([*keys, "__b", "__nb"])
    bucket = (
        f"__bk AS (SELECT {kl}__b, __nb, count(*) AS __cnt{''.join(', ' + c for c in _bucket_cols(stats))} "
        f"FROM __al GROUP BY {bucket_by})"
    )
    nb = f"LEAST(__n, {cap + 1}) AS __nb"
    if not keys:
        body = (
            f"__pk AS (SELECT __pid, {pre} FROM __in GROUP BY __pid), "
            f"__al AS (SELECT {kl}0 AS __b, {nb}{s_cols}, __n FROM __pk), {bucket}"
        )
        hist = f"SELECT LEAST(__nb, {cap}) AS __h, sum(__cnt) AS __p FROM __bk GROUP BY 1"
    else:
        order = ", ".join([portable_hash("__pid", *keys, f"'{salt}'"), *keys])
        body = (
            f"__pk AS (SELECT __pid, {kl}{pre} FROM __in GROUP BY __pid, {', '.join(keys)}), "
            f"__pp AS (SELECT __pid, count(*) AS __gs, sum(__n) AS __tot FROM __pk "
            f"GROUP BY __pid), "
            f"__many AS (SELECT __pk.* FROM __pk SEMI JOIN (SELECT __pid FROM __pp WHERE "
            f"__gs > 1) AS m USING (__pid)), "
            f"__rk AS (SELECT *, row_number() OVER (w) AS __g, COALESCE(sum(__n) OVER (w ROWS "
            f"BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __b FROM __many WINDOW w AS "
            f"(PARTITION BY __pid ORDER BY {order})), "
            f"__al AS (SELECT {kl}0 AS __b, {nb}{s_cols}, __n FROM __pk SEMI JOIN (SELECT "
            f"__pid FROM __pp WHERE __gs = 1) AS o USING (__pid) UNION ALL SELECT {kl}"
            f"__b, {nb}{s_cols}, __n FROM __rk WHERE __g <= {groups} AND __b < {cap}), {bucket}"
        )
        hist = f"SELECT LEAST(__tot, {cap}) AS __h, count(*) AS __p FROM __pp GROUP BY 1"
    nulls = "".join(f"NULL AS {k}, " for k in keys)
    t_nulls = "".join(f", NULL AS {t}" for t in t_cols)
    t_sel = "".join(f", {t}" for t in t_cols)
    return (
        f"{head}, {body} SELECT * FROM (SELECT 0 AS __part, {kl}__b, __nb, __cnt{t_sel} "
        f"FROM __bk UNION ALL SELECT 1 AS __part, {nulls}NULL AS __b, __h AS __nb, __p AS "
        f"__cnt{t_nulls} FROM ({hist}) AS __hist) AS __out"
    )  # one SELECT at the top: the Spark engine's sandbox accepts nothing else


def histogram(rows: Sequence[tuple[Any, ...]], n_keys: int) -> tuple[list[int], list[int]]:
    """(rows per person, persons) from the part-1 rows."""
    part = [r for r in rows if r[0] == 1]
    return [int(r[2 + n_keys]) for r in part], [int(r[3 + n_keys]) for r in part]


def totals_at(
    rows: Sequence[tuple[Any, ...]], *, n_keys: int, stats: Sequence[Stat], c: int
) -> list[tuple[Any, ...]]:
    """The bounded totals at rows bound ``c`` (same rows as ``bounded_sql``) from part 0."""
    idx = pre_indices(stats)
    # per stat: 0 adds w·cnt (count), 1 its total once (distinct, group stats), 2 w·total
    how = [
        0 if st.stat == "count" else 1 if st.stat == "distinct" or st.stat in GROUP_STATS else 2
        for st in stats_for(stats)
    ]
    out: dict[tuple[Any, ...], list[float]] = {}
    for r in rows:
        if r[0] != 0:
            continue
        key = tuple(r[1 : 1 + n_keys])
        b, nb, cnt = int(r[1 + n_keys]), int(r[2 + n_keys]), int(r[3 + n_keys])
        w = min(nb, max(c - b, 0))
        if w <= 0:
            continue
        t = dict(zip(idx, r[4 + n_keys :], strict=True))
        acc = out.setdefault(key, [0] * max(1, len(stats)))
        if not stats:  # quantiles only: the (person, key) rows kept, like ``__rows``
            acc[0] += cnt
        for i, kind in enumerate(how):
            if kind == 0:
                acc[i] += w * cnt
            elif kind == 1:
                acc[i] += int(t[i] or 0)
            else:
                acc[i] += w * int(t[i] or 0)
    return [(*k, *(int(v) for v in vals)) for k, vals in out.items()]
