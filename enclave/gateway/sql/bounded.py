"""SQL that bounds each person's contribution and computes exact bounded totals per group.

Two strategies, same guarantees (each person: at most ``g`` groups, at most ``c`` rows in
total, each value clamped):

* ``"preagg"`` (used by the gateway): group the relation by (person, key) first, keeping
  row counts and sums of clamped values; rank each person's groups by a salted hash and
  keep the first ``g``; give rows to the kept groups in that order until ``c`` are used
  (``w = least(n, c - rows already given)``); each group then contributes ``w`` rows and
  ``w`` times its per-row share ``t`` of each unit sum (``share_sql``: ``w / n`` of the sum,
  the expected sum of ``w`` rows drawn without replacement, in exact integer units).
  Without GROUP BY it is simply ``least(n, c)`` per person: no window at all.
* ``"window"``: rank every row with ``row_number()`` over the person, ordered by a salted
  hash of the row, after a ``dense_rank()`` choice of groups; keep ranks ≤ c.

Totals are exact integers (``DECIMAL(38, 0)`` sums of integer units, see ``plan.pieces``):
the same on every engine, in any order, with no float accumulation.

The per-query salt comes from the normalised SQL, so the same query bounds the same way;
the choice depends only on the person's own rows, which is what DP needs (the salt need
not be secret).

>>> sql = bounded_sql("SELECT 1", n_keys=0, stats=[("sum", "__a0")], rows=3, groups=1,
...                   salt="s", key_filters=[])
>>> "LEAST(__n, 3)" in sql and "DECIMAL(38, 0)" in sql
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from enclave.engines.hashing import portable_hash
from enclave.gateway.plan.pieces import SHARE_UNITS

__all__ = [
    "GROUP_STATS",
    "KEPT_STATS",
    "SqlStat",
    "Strategy",
    "as_stat",
    "auto_bound_sql",
    "bin_share_sql",
    "bounded_sql",
    "group_total_sql",
    "group_value_sql",
    "input_ctes",
    "pre_cols",
    "pre_indices",
    "share_sql",
    "stats_for",
]

Strategy = Literal["preagg", "window"]


class SqlStat(NamedTuple):
    """One noised total the SQL computes: ``stat`` over relation column ``column``.

    Unit stats (``count_x``, ``nn``, ``sum``, ``sum_sq``) round each row's value to
    ``grid`` (integer units in ``[lo, hi]``); see ``plan.pieces`` for the share rule.
    A ``bin`` stat counts the kept rows whose value (units as for ``sum``) lies in
    ``edges``, in 1/K rows by the share rule (``bin_share_sql``) — one bin of the histogram
    a value clamp is chosen from (``plan.clamps``); the bins partition the rows, so a
    person adds at most ``c·K`` to the histogram.
    A ``gsum`` stat adds each kept (person, group)'s total of all its rows' units,
    clamped to ``group``, times K — once, whatever its share ``w`` (``plan.pieces``); a
    ``gbin`` stat counts the kept (person, group)s whose total lies in ``edges`` (one
    each: a person adds at most ``min(g, c)``). ``ksum``/``kbin`` do the same with the
    total of the rows the (person, group) keeps (its share ``w·t``: an AVG's sum).
    """

    stat: str  # count, count_x, nn, distinct, sum, gsum, ksum, sum_sq, bin, gbin, kbin
    column: str | None
    grid: float = 1.0
    lo: int = 0
    hi: int = 1
    #: a ``bin`` stat: the rows whose value, in units, is in [edges); a ``gbin`` stat: the
    #: (person, group)s whose total, in units, is
    edges: tuple[int | None, int | None] = (None, None)
    #: a ``gsum`` stat: the bounds of a (person, group)'s total, in units
    group: tuple[int, int] = (0, 0)


#: a SqlStat, or a plain (stat, column) pair in tests and examples
Stat = SqlStat | tuple[str, str | None]
UNIT_STATS = ("count_x", "nn", "sum", "sum_sq")
#: stats of a (person, group)'s total of its rows, added once per kept group (not ``w·t``)
GROUP_STATS = ("gsum", "gbin", "ksum", "kbin")
#: group stats of the rows a (person, group) keeps (its share ``w·t``), not all its rows
KEPT_STATS = ("ksum", "kbin")


def as_stat(stat: Stat) -> SqlStat:
    return stat if isinstance(stat, SqlStat) else SqlStat(*stat)


def stats_for(pieces: Sequence[Stat]) -> list[SqlStat]:
    """The stats in output order (one per noisy piece)."""
    return [as_stat(p) for p in pieces]


def input_ctes(relation: str, key_filters: Sequence[str]) -> str:
    """The relation and its rows that enter bounding (person known, public keys in set)."""
    where = " AND ".join(["__pid IS NOT NULL", *key_filters])
    return f"__rel AS ({relation}), __in AS (SELECT * FROM __rel WHERE {where})"


def auto_bound_sql(relation: str, key_filters: Sequence[str], cap: int) -> str:
    """Histogram of per-person row counts (capped at ``cap``) after filters and joins."""
    return (
        f"WITH {input_ctes(relation, key_filters)} SELECT __c, count(*) FROM "
        f"(SELECT LEAST(count(*), {cap}) AS __c FROM __in GROUP BY __pid) GROUP BY __c"
    )


def _row_units(st: SqlStat) -> str:
    """One row's value in integer grid units (NULL stays NULL, counted as nothing)."""
    col = st.column
    if st.stat == "count_x":
        return f"CAST({col} AS BIGINT)"
    if st.stat == "nn":
        return f"CASE WHEN {col} IS NULL THEN 0 ELSE 1 END"
    value = f"{col} * {col}" if st.stat == "sum_sq" else str(col)
    return f"LEAST(GREATEST(CAST(ROUND({value} / {st.grid!r}) AS BIGINT), {st.lo}), {st.hi})"


def _value_units(st: SqlStat) -> str:
    """One row's value in units, as a ``sum`` stat rounds it (bins and group totals read
    the same units as the sums they belong to)."""
    return _row_units(SqlStat("sum", st.column, st.grid, st.lo, st.hi))


def _in_bin(st: SqlStat) -> str:
    """Whether a row's value (units of the widest candidate; NULL is in no bin) is in the
    bin ``st.edges``."""
    units = _value_units(st)
    lo, hi = st.edges
    tests = [f"{units} >= {lo}" if lo is not None else f"{units} IS NOT NULL"]
    if hi is not None:
        tests.append(f"{units} < {hi}")
    return " AND ".join(tests)


def _edges_test(value: str, edges: tuple[int | None, int | None]) -> str:
    lo, hi = edges
    tests = [f"{value} >= {lo}" if lo is not None else "TRUE"]
    if hi is not None:
        tests.append(f"{value} < {hi}")
    return " AND ".join(tests)


def group_value_sql(st: SqlStat, value: str) -> str:
    """A kept (person, group)'s part of a group stat from its total ``value`` in 1/K
    units: the total clamped to ``st.group``, or 1 when it lies in the bin ``st.edges``."""
    k = SHARE_UNITS
    if st.stat in ("gbin", "kbin"):
        lo, hi = st.edges
        edges = (None if lo is None else lo * k, None if hi is None else hi * k)
        return f"CASE WHEN {_edges_test(value, edges)} THEN 1 ELSE 0 END"
    lo, hi = st.group
    return f"LEAST(GREATEST({value}, {lo * k}), {hi * k})"


def group_total_sql(st: SqlStat, i: int) -> str:
    """A kept (person, group)'s part of a group stat over pre-aggregated rows: the total
    of all its rows (``__s<i>``, ``gsum``/``gbin``) or of the rows it keeps (its share
    ``w·t``, ``ksum``/``kbin``), in 1/K units."""
    if st.stat in KEPT_STATS:
        return group_value_sql(st, f"__w * {share_sql(st, i)}")
    return group_value_sql(st, f"__s{i} * {SHARE_UNITS}")


def _bin_pre(st: SqlStat) -> str:
    """A (person, group)'s rows in the bin."""
    return f"count(*) FILTER (WHERE {_in_bin(st)})"


def bin_share_sql(i: int) -> str:
    """A (person, group)'s share of its ``__n`` rows in bin ``__s<i>``, in 1/K rows,
    rounded down: its shares over all bins add up to at most K (one row), so ``w`` kept
    rows add at most ``w·K`` to the histogram, as ``w`` rows add ``w`` times a row's value
    to the sums (the same share rule)."""
    return f"CAST(floor(CAST(__s{i} AS DOUBLE) * {SHARE_UNITS} / __n) AS BIGINT)"


def share_sql(st: SqlStat, i: int) -> str:
    """A (person, group)'s share ``t`` of unit sum ``__s<i>`` over its ``__n`` rows."""
    k = SHARE_UNITS
    t = f"CAST(ROUND(CAST(__s{i} AS DOUBLE) * {k} / __n) AS BIGINT)"
    return f"LEAST(GREATEST({t}, {st.lo * k}), {st.hi * k})"


def pre_cols(stats: Sequence[Stat]) -> list[str]:
    out = []
    for i, st in enumerate(stats_for(stats)):
        if st.stat == "bin":
            out.append(f"{_bin_pre(st)} AS __s{i}")
        elif st.stat in GROUP_STATS:  # the group's sum of row units (as for ``sum``)
            out.append(f"COALESCE(sum({_value_units(st)}), 0) AS __s{i}")
        elif st.stat in UNIT_STATS:
            out.append(f"COALESCE(sum({_row_units(st)}), 0) AS __s{i}")
        elif st.stat == "distinct":
            out.append(f"max({st.column}) AS __s{i}")
    return out


def pre_indices(stats: Sequence[Stat]) -> list[int]:
    return [i for i, st in enumerate(stats_for(stats)) if st.stat != "count"]


def _exact_sum(expr: str) -> str:
    """An exact integer sum, order-independent on every engine (no float accumulation)."""
    return f"CAST(COALESCE(sum(CAST({expr} AS DECIMAL(38, 0))), 0) AS DECIMAL(38, 0))"


def _window_total(st: SqlStat) -> str:
    """One kept row's part of a total: its units (share K each), or K in its value's bin."""
    if st.stat == "bin":
        return f"CASE WHEN {_in_bin(st)} THEN {SHARE_UNITS} ELSE 0 END"
    return f"{_row_units(st)} * {SHARE_UNITS}"


def _preagg_total(st: SqlStat, i: int) -> str:
    if st.stat in GROUP_STATS:
        return group_total_sql(st, i)
    return f"__w * {share_sql(st, i) if st.stat != 'bin' else bin_share_sql(i)}"


def _window_of(st: SqlStat, i: int) -> str:
    """A kept row's part: a (person, group) total (``__s<i>``) is added on the group's
    first kept row only (``__r = __mr``)."""
    if st.stat in GROUP_STATS:
        value = group_value_sql(st, f"__s{i} * {SHARE_UNITS}")
        return f"CASE WHEN __r = __mr THEN {value} ELSE 0 END"
    return _window_total(st)


def _group_windows(stats: Sequence[Stat], keys: Sequence[str], rows: int) -> str:
    """The window strategy's (person, group) totals — of all its rows, or of its kept rows
    (``KEPT_STATS``) — and its first kept rank."""
    part = ", ".join(["__pid", *keys])
    cols = [f"min(__r) OVER (PARTITION BY {part}) AS __mr"]
    for i, st in enumerate(stats_for(stats)):
        if st.stat in GROUP_STATS:
            unit = _value_units(st)
            if st.stat in KEPT_STATS:
                unit = f"CASE WHEN __r <= {rows} THEN {unit} END"
            cols.append(f"COALESCE(sum({unit}) OVER (PARTITION BY {part}), 0) AS __s{i}")
    return f", __rg AS (SELECT *, {', '.join(cols)} FROM __rw)"


class _Final(NamedTuple):
    """How one strategy's final SELECT computes each kind of stat from its rows."""

    rows: str
    distinct: Callable[[int, SqlStat], str]
    total: Callable[[int, SqlStat], str]


_FINAL: dict[Strategy, _Final] = {
    # over per-(person, key) rows weighted by ``__w``, with unit sums ``__s<i>``
    "preagg": _Final(
        "CAST(sum(__w) AS BIGINT)",
        lambda i, st: f"CAST(count(*) FILTER (WHERE __s{i} > 0) AS BIGINT)",
        lambda i, st: _preagg_total(st, i),
    ),
    # over the kept rows: every kept row adds its own units (share K per row)
    "window": _Final(
        "count(*)",
        lambda i, st: f"count(DISTINCT CASE WHEN {st.column} > 0 THEN __pid END)",
        lambda i, st: _window_of(st, i),
    ),
}


def _final_columns(stats: Sequence[Stat], strategy: Strategy) -> list[str]:
    """The final SELECT list: one column ``__v<i>`` per stat (or a row count if none)."""
    if not stats:  # quantiles only: their histograms carry the data
        return ["CAST(count(*) AS BIGINT) AS __rows"]
    final = _FINAL[strategy]
    out = []
    for i, st in enumerate(stats_for(stats)):
        if st.stat == "count":
            out.append(f"{final.rows} AS __v{i}")
        elif st.stat == "distinct":
            out.append(f"{final.distinct(i, st)} AS __v{i}")
        else:
            out.append(f"{_exact_sum(final.total(i, st))} AS __v{i}")
    return out


def bounded_sql(
    relation: str,
    *,
    n_keys: int,
    stats: Sequence[Stat],
    rows: int,
    groups: int,
    salt: str,
    key_filters: Sequence[str],
    strategy: Strategy = "preagg",
) -> str:
    """Exact bounded totals: one row per group with keys ``__k*`` then values ``__v*``."""
    keys = [f"__k{i}" for i in range(n_keys)]
    key_list = ", ".join(keys)
    group_hash = portable_hash("__pid", *keys, f"'{salt}'")
    head = f"WITH {input_ctes(relation, key_filters)}"
    sel_keys = key_list + ", " if keys else ""
    group_by = f" GROUP BY {key_list}" if keys else ""
    if strategy == "window":
        row_cols = [c for c in ("__pid", *keys) if c] + [
            st.column for st in stats_for(stats) if st.column and st.column != "1"
        ]
        row_hash = portable_hash(*dict.fromkeys(row_cols), f"'{salt}'")
        grouped = any(st.stat in GROUP_STATS for st in stats_for(stats))
        return (
            f"{head}, __gr AS (SELECT *, dense_rank() OVER (PARTITION BY __pid ORDER BY "
            f"{group_hash}{', ' + key_list if keys else ''}) AS __g FROM __in), "
            f"__rw AS (SELECT *, row_number() OVER (PARTITION BY __pid ORDER BY {row_hash}) "
            f"AS __r FROM __gr WHERE __g <= {groups})"
            f"{_group_windows(stats, keys, rows) if grouped else ''} "
            f"SELECT {sel_keys}{', '.join(_final_columns(stats, 'window'))} "
            f"FROM {'__rg' if grouped else '__rw'} WHERE __r <= {rows}{group_by}"
        )
    pre = ", ".join(["count(*) AS __n", *pre_cols(stats)])
    by = ", ".join(["__pid", *keys])
    pk = f"__pk AS (SELECT __pid, {sel_keys}{pre} FROM __in GROUP BY {by})"
    if keys:
        # Persons already within both bounds keep every row (w = n): no ranking needed.
        # Only the others are ranked by the salted hash (a window over a small subset).
        cols = ", ".join(["__pid", *keys, "__n", *(f"__s{i}" for i in pre_indices(stats))])
        window = f"PARTITION BY __pid ORDER BY {group_hash}, {key_list}"
        alloc = (
            f"__pp AS (SELECT __pid, sum(__n) > {rows} OR count(*) > {groups} "
            f"AS __over FROM __pk GROUP BY __pid), "
            f"__big AS (SELECT __pk.* FROM __pk SEMI JOIN (SELECT __pid FROM __pp WHERE __over) "
            f"AS o USING (__pid)), "
            f"__rk AS (SELECT *, row_number() OVER (w) AS __g, COALESCE(sum(__n) OVER (w ROWS "
            f"BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __b FROM __big WINDOW w AS "
            f"({window})), "
            f"__al AS (SELECT {cols}, __n AS __w FROM __pk SEMI JOIN (SELECT __pid FROM __pp "
            f"WHERE NOT __over) AS u USING (__pid) UNION ALL SELECT {cols}, "
            f"LEAST(__n, GREATEST({rows} - __b, 0)) AS __w FROM __rk WHERE __g <= {groups})"
        )
    else:
        alloc = f"__al AS (SELECT *, LEAST(__n, {rows}) AS __w FROM __pk)"
    return (
        f"{head}, {pk}, {alloc} SELECT {sel_keys}{', '.join(_final_columns(stats, 'preagg'))} "
        f"FROM __al WHERE __w > 0{group_by}"
    )
