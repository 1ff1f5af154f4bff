"""Planning queries over patient-level tables (``check.person_tables``).

The checks hand the planner each patient-level WITH body with a table policy of its own
(protected, one row per person). The planner sees the dataset with those tables added
(``dataset_with``), plans the outer query as usual, and finally puts each body back into
the relation as a derived table (``inline_bodies``), with every expression that could fail
guarded by ``TRY`` (``plan.total``), as the outer query's are.

A table has one row per person *structurally* when it is ``persons`` (the load keys it on
the person token) or a patient-level table (``GROUP BY`` the person column). When every
protected table a query reads is such a table — joined on the person column, so the join
keeps one row per person — each person contributes at most one row (``rows_structural``):
the rows bound is 1 and no ε is spent choosing it. The bounding SQL still enforces it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import sqlglot.expressions as exp

from enclave.gateway.plan.contribution import one_row
from enclave.gateway.plan.sources import Scope
from enclave.gateway.plan.total import guard, guard_conjuncts
from enclave.gateway.values import PersonTable
from enclave.policy import DatasetPolicy

__all__ = ["STRUCTURAL_NOTE", "dataset_with", "inline_bodies", "rows_structural"]

#: Plan note of a query whose every protected table has one row per person.
STRUCTURAL_NOTE = "one row per person: every table read is persons or patient-level"


def dataset_with(ds: DatasetPolicy, tables: Iterable[PersonTable]) -> DatasetPolicy:
    """The dataset policy with a query's patient-level tables added."""
    extra = tuple(t.table for t in tables)
    return dataclasses.replace(ds, tables=ds.tables + extra) if extra else ds


def rows_structural(scope: Scope) -> bool:
    """Whether every protected source has one row per person (so a person has ≤ 1 row)."""
    protected = [s for s in scope.sources if s.table.protected]
    return bool(protected) and all(s.select is None and one_row(s.table) for s in protected)


def _lift(expr: exp.Expression, inner: list[exp.Expr]) -> exp.Expression:
    """``expr`` with each aggregate moved into ``inner`` (its argument guarded)."""
    holder = exp.Paren(this=expr.copy())
    tops = [a for a in holder.find_all(exp.AggFunc) if a.find_ancestor(exp.AggFunc) is None]
    for agg in tops:
        arg = agg.this
        if isinstance(arg, exp.Distinct):
            arg.set("expressions", [guard(e) for e in arg.expressions])
        elif arg is not None and not isinstance(arg, exp.Star):
            agg.set("this", guard(arg))
        name = f"__g{len(inner) - 1}"
        inner.append(exp.alias_(agg.copy(), name))
        agg.replace(exp.column(name))
    return holder.this


def _body(table: PersonTable) -> exp.Select:
    """The body as two SELECTs: the person's aggregates, then guarded expressions of them.

    DuckDB's ``TRY`` cannot hold an aggregate, so the aggregates (arguments guarded) are
    computed first, per person, and the expressions over them — the output columns and the
    HAVING condition — are evaluated, guarded, on that one row per person.
    """
    body = table.body.copy()
    if body.args.get("group") is None:  # a window table: rows, guarded filter
        where = body.args.get("where")
        if where is not None:
            where.set("this", guard_conjuncts(where.this))
        return body
    person = body.expressions[0]
    inner: list[exp.Expr] = [person.copy()]
    outputs: list[exp.Expr] = [exp.column(person.alias)]
    for item in body.expressions[1:]:
        outputs.append(exp.alias_(guard(_lift(item.this, inner)), item.alias, copy=False))
    having = body.args.get("having")
    condition = _lift(having.this, inner) if having is not None else None
    where = body.args.get("where")
    if where is not None:
        where.set("this", guard_conjuncts(where.this))
    body.set("expressions", inner)
    body.set("having", None)
    outer = exp.select(*outputs).from_(body.subquery("__per_person"))
    if condition is not None:
        outer = outer.where(guard_conjuncts(condition))
    return outer


def inline_bodies(relation: exp.Select, tables: Iterable[PersonTable]) -> None:
    """Replace each patient-level or window table in ``relation`` by its guarded body (in
    place); a body that reads an earlier one's table gets that body in turn."""
    bodies = {t.name: t for t in tables}
    for _ in range(len(bodies)):
        nodes = [n for n in relation.find_all(exp.Table) if str(n.name).lower() in bodies]
        if not nodes:
            return
        for node in nodes:
            node.replace(_body(bodies[str(node.name).lower()]).subquery(node.alias_or_name))
