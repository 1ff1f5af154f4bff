"""FROM and JOIN: start from a protected table; join protected tables on the person column.

* FROM names a protected table (so every row has a person);
* JOIN is INNER or LEFT with an ON clause (no CROSS, comma, NATURAL, USING, ASOF,
  POSITIONAL, RIGHT or FULL joins);
* a protected table joins with ``<earlier>.person_col = <it>.person_col`` among the ON's
  AND-ed conditions; a public table (providers) joins as a lookup: an equality on one of
  its ``join``-role columns (its register key, unique: the load keys it), so a joined row
  matches at most one public row and no public join can multiply one person's rows;
* a protected table appears once (no self-joins).

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = "SELECT COUNT(*) FROM claims c JOIN diagnoses d ON c.claim_id = d.claim_id"
>>> person_join_only(sqlglot.parse_one(sql), Catalog.example())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Join diagnoses to the query on the person column...d.person_id.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.names import sources

__all__ = ["conjuncts", "join_equalities", "person_join_only"]


def conjuncts(predicate: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a predicate (parentheses removed)."""
    if predicate is None:
        return []
    while isinstance(predicate, exp.Paren):
        predicate = predicate.this
    if isinstance(predicate, exp.And):
        return conjuncts(predicate.this) + conjuncts(predicate.expression)
    return [predicate]


def _col_eq(node: exp.Expression) -> tuple[exp.Column, exp.Column] | None:
    if isinstance(node, exp.EQ):
        left, right = node.this, node.expression
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            return left, right
    return None


def join_equalities(select: exp.Select, cat: Catalog) -> tuple[set[int], set[int]]:
    """ids of columns used in person-column equalities and in public-table equalities."""
    tables = {a: s.table for a, s in sources(select, {}).items()}
    person: set[int] = set()
    public: set[int] = set()
    for join in select.args.get("joins") or ():
        for part in conjuncts(join.args.get("on")):
            pair = _col_eq(part)
            if pair is None:
                continue
            (left, right) = pair
            lt, rt = tables.get(str(left.table)), tables.get(str(right.table))
            lp, rp = cat.table(lt or ""), cat.table(rt or "")
            if lp is None or rp is None or lt == rt:
                continue
            if lp.protected and rp.protected:
                if left.name == lp.person_column and right.name == rp.person_column:
                    person.update((id(left), id(right)))
            elif not (lp.protected and rp.protected):
                public.update((id(left), id(right)))
    return person, public


def _join_kind(join: exp.Join) -> None:
    method = str(join.args.get("method") or "").upper()
    kind = str(join.args.get("kind") or "").upper()
    side = str(join.args.get("side") or "").upper()
    if method or kind not in ("", "INNER") or side not in ("", "LEFT"):
        what = " ".join(p for p in (method, side, kind) if p)
        raise QueryRejected(
            f"{what} JOIN is not supported; use JOIN or LEFT JOIN … ON a.person_id = b.person_id."
        )
    if join.args.get("using"):
        raise QueryRejected("JOIN … USING is not supported; write ON a.person_id = b.person_id.")
    if join.args.get("on") is None:
        raise QueryRejected(
            "Joins without ON (comma joins, cross joins) are not supported; write "
            "JOIN t ON a.person_id = t.person_id."
        )


def _joins_right(
    part: exp.Expression, src_alias: str, tp: Any, here: dict[str, str], cat: Catalog
) -> bool:
    """Whether one AND-ed ON part joins ``src`` as the rules require."""
    pair = _col_eq(part)
    if pair is None:
        return False
    aliases = {str(pair[0].table), str(pair[1].table)}
    if src_alias not in aliases or len(aliases) != 2:
        return False
    other = cat.table(here[(aliases - {src_alias}).pop()])
    mine = pair[0] if str(pair[0].table) == src_alias else pair[1]
    theirs = pair[1] if mine is pair[0] else pair[0]
    if not tp.protected:
        col = tp.column(mine.name)
        return col is not None and col.role == "join"
    return (
        other is not None
        and other.protected
        and mine.name == tp.person_column
        and theirs.name == other.person_column
    )


def _refuse_join(tp: Any, src_alias: str, first_alias: str, first: Any) -> QueryRejected:
    if tp.protected:
        return QueryRejected(
            f"Join {tp.name} to the query on the person column, e.g. ON "
            f"{first_alias}.{first.person_column} = {src_alias}.{tp.person_column}."
        )
    keys = ", ".join(c.name for c in tp.columns if c.role == "join") or "none"
    return QueryRejected(
        f"Join {tp.name} as a lookup on its key ({keys}), e.g. ON c.provider_id = "
        f"{src_alias}.provider_id: each row then matches at most one {tp.name} row."
    )


def _first_table(scope: list[Any], cat: Catalog) -> Any:
    if not scope or scope[0].table is None:
        raise QueryRejected("The query needs FROM <table>.")
    protected = [t.name for t in cat.dataset.tables if t.protected]
    first = cat.table(scope[0].table)
    if first is None or not first.protected:
        raise QueryRejected(
            "Start FROM a table about people ("
            + ", ".join(protected)
            + "); public tables can only be joined to them. For the public lists "
            "themselves, use the published code lists."
        )
    return first


def person_join_only(select: exp.Select, cat: Catalog) -> exp.Select:
    """Refuse cross/self joins, non-person joins of protected tables and public-only queries."""
    scope = list(sources(select, {}).values())
    first = _first_table(scope, cat)
    seen: dict[str, str] = {scope[0].alias: scope[0].table or ""}
    for join, src in zip(select.args.get("joins") or (), scope[1:], strict=True):
        _join_kind(join)
        tp = cat.table(src.table or "")
        if tp is None:
            raise QueryRejected("JOIN accepts table names only.")
        if tp.protected and src.table in seen.values():
            raise QueryRejected(
                f"{tp.name} appears twice; self-joins are not supported (each person's rows "
                "could be paired with themselves). Use one reference with a filter."
            )
        for column in join.args["on"].find_all(exp.Column):
            if str(column.table) not in seen and str(column.table) != src.alias:
                raise QueryRejected(
                    "A JOIN's ON may only use the tables joined so far; reorder the joins."
                )
        seen[src.alias] = src.table or ""
        here = dict(seen)
        if not any(_joins_right(p, src.alias, tp, here, cat) for p in conjuncts(join.args["on"])):
            raise _refuse_join(tp, src.alias, scope[0].alias, first)
    return select
