"""Cohort filters: ``person IN (SELECT person …)`` and ``EXISTS (… same person …)``.

Both ask, for each person, a yes/no question about that person's own rows. They become
patient-level tables (``check.person_tables``) joined on the person column:

``WHERE p.person_id IN (SELECT person_id FROM claims WHERE icd10 LIKE 'E11%')`` is
``LEFT JOIN (SELECT person_id, COUNT(*) AS hit FROM claims WHERE icd10 LIKE 'E11%'
GROUP BY person_id) AS __cohort0 ON __cohort0.person_id = p.person_id`` with the predicate
``__cohort0.hit IS NOT NULL``; ``NOT IN`` / ``NOT EXISTS`` test ``IS NULL``. A person's
answer depends on that person's rows alone — unlike SQL's ``NOT IN``, which turns NULL for
everyone when one other row has a NULL person (so it is never run as written).

The subquery reads one protected table and selects its person column (``IN``), or is
correlated by one equality of its person column with an outer column (``EXISTS``); it may
filter rows and group by the person column with ``HAVING``. The join's ON is checked like
any join (``rules.person_join_only``): the outer column must be a person column.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> tree = sqlglot.parse_one("SELECT COUNT(*) FROM persons p WHERE p.person_id IN "
...                          "(SELECT person_id FROM claims WHERE icd10 LIKE 'E11%')")
>>> cohort_tables(tree, Catalog.example()).sql()
"WITH __cohort0 AS (SELECT claims.person_id AS person_id, COUNT(*) AS hit FROM claims WHERE icd10 LIKE 'E11%' GROUP BY claims.person_id) SELECT COUNT(*) FROM persons AS p LEFT JOIN __cohort0 ON __cohort0.person_id = p.person_id WHERE NOT __cohort0.hit IS NULL"
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.names import sources

__all__ = ["cohort_tables"]

_SHAPE = (
    "A cohort filter is person_id IN (SELECT person_id FROM <table> WHERE …) or "
    "EXISTS (SELECT 1 FROM <table> t WHERE t.person_id = p.person_id AND …), over one "
    "protected table, in WHERE."
)


def cohort_tables(select: exp.Select, cat: Catalog) -> exp.Select:
    """Rewrite IN / EXISTS subqueries of the outer WHERE into joined patient-level tables."""
    where = select.args.get("where")
    if where is None:
        return select
    found = [
        n
        for n in where.find_all(exp.In, exp.Exists)
        if (not isinstance(n, exp.In) or n.args.get("query") is not None)
        and n.find_ancestor(exp.Select) is select
    ]
    owners = {alias: src.table for alias, src in sources(select).items() if src.table}
    people = _people(select, cat)
    for i, node in enumerate(found):
        name = f"__cohort{i}"
        if isinstance(node, exp.In):
            body, outer = _from_in(node, people)
        else:
            body, outer = _from_exists(node, people)
        _qualify_outer(outer, owners, cat)
        select = select.with_(name, as_=body, copy=False)
        on = exp.EQ(this=exp.column(_person(body), table=name), expression=outer)
        select = select.join(exp.to_table(name), on=on, join_type="left", copy=False)
        node.replace(
            exp.Not(this=exp.Is(this=exp.column("hit", table=name), expression=exp.Null()))
        )
    return select


def _qualify_outer(column: exp.Expression, owners: dict[str, str], cat: Catalog) -> None:
    """Qualify an unqualified outer column with the one FROM/JOIN table that has it."""
    if not isinstance(column, exp.Column) or column.table:
        return
    hits = [a for a, t in owners.items() if cat.column(t, str(column.name).lower()) is not None]
    if len(hits) == 1:
        column.set("table", exp.to_identifier(hits[0]))


def _person(body: exp.Select) -> str:
    return str(body.expressions[0].alias_or_name)


def _people(select: exp.Select, cat: Catalog) -> dict[str, str]:
    """The person column of every table a cohort subquery may read: the protected tables
    of the dataset and the query's WITH names that read one (patient-level, window or
    filter-only bodies, checked as such later)."""
    people = {
        t.name: t.person_column for t in cat.dataset.tables if t.protected and t.person_column
    }
    with_ = select.args.get("with_")
    for cte in with_.expressions if with_ is not None else ():
        from_ = cte.this.args.get("from_") if isinstance(cte.this, exp.Select) else None
        node = from_.this if from_ is not None else None
        read = str(node.name).lower() if isinstance(node, exp.Table) else ""
        if read in people and cte.alias.lower() not in people:
            people[cte.alias.lower()] = people[read]
    return people


def _table(subquery: exp.Select, people: dict[str, str]) -> tuple[str, str]:
    """The subquery's one protected table (or WITH name) and its person column."""
    from_ = subquery.args.get("from_")
    node = from_.this if from_ is not None else None
    if subquery.args.get("joins") or not isinstance(node, exp.Table) or node.args.get("db"):
        raise QueryRejected(_SHAPE)
    person = people.get(str(node.name).lower())
    if person is None:
        raise QueryRejected(_SHAPE)
    return str(node.alias_or_name).lower(), person


def _cohort_body(subquery: exp.Select, person: str, alias: str) -> exp.Select:
    """The subquery as a patient-level body: person column and a row count, by person."""
    for key in ("order", "limit", "offset", "qualify", "windows", "with_"):
        if subquery.args.get(key):
            raise QueryRejected(_SHAPE)
    distinct = subquery.args.get("distinct")
    if isinstance(distinct, exp.Distinct) and distinct.args.get("on") is not None:
        raise QueryRejected(  # DISTINCT ON (code) keeps one person per code: others' rows
            "A cohort subquery may not use DISTINCT ON; SELECT DISTINCT person_id (or plain "
            "SELECT person_id) is the same cohort."
        )
    body = subquery.copy()
    body.set("distinct", None)  # IN (SELECT DISTINCT person_id …): the same persons
    column = exp.column(person, table=alias)
    body.set("expressions", [column.copy().as_(person), exp.Count(this=exp.Star()).as_("hit")])
    group = body.args.get("group")
    if group is not None and [str(g.name).lower() for g in group.expressions] != [person]:
        raise QueryRejected(_SHAPE)
    body.set("group", exp.Group(expressions=[column]))
    return body


def _from_in(node: exp.In, people: dict[str, str]) -> tuple[exp.Select, exp.Expression]:
    query = node.args["query"]
    subquery = query.this if isinstance(query, exp.Subquery) else query
    if not isinstance(subquery, exp.Select) or not isinstance(node.this, exp.Column):
        raise QueryRejected(_SHAPE)
    alias, person = _table(subquery, people)
    items = subquery.expressions
    if len(items) != 1 or not isinstance(items[0], exp.Column) or items[0].name.lower() != person:
        raise QueryRejected(
            f"An IN subquery selects the person column only (SELECT {person} FROM …)."
        )
    group = subquery.args.get("group")
    if group is not None:  # GROUP BY 1: the person column it selects
        keys = group.expressions
        group.set(
            "expressions", [items[0].copy() if k == exp.Literal.number(1) else k for k in keys]
        )
    return _cohort_body(subquery, person, alias), node.this.copy()


def _from_exists(node: exp.Exists, people: dict[str, str]) -> tuple[exp.Select, exp.Expression]:
    subquery = node.this
    if not isinstance(subquery, exp.Select):
        raise QueryRejected(_SHAPE)
    alias, person = _table(subquery, people)
    where = subquery.args.get("where")
    parts = (
        list(where.this.flatten())
        if where is not None and isinstance(where.this, exp.And)
        else ([where.this] if where is not None else [])
    )
    link = [p for p in parts if _correlation(p, alias, person) is not None]
    if len(link) != 1:
        raise QueryRejected(
            f"An EXISTS subquery is tied to the outer person by one equality "
            f"({alias}.{person} = p.{person}) among its AND-ed conditions."
        )
    outer = _correlation(link[0], alias, person)
    rest = [p for p in parts if p is not link[0]]
    body = subquery.copy()
    body.set("where", exp.Where(this=exp.and_(*rest)) if rest else None)
    return _cohort_body(body, person, alias), outer  # type: ignore[return-value]


def _correlation(part: exp.Expr, alias: str, person: str) -> exp.Expression | None:
    """The outer column of ``<alias>.<person> = <outer column>``, or None."""
    if not isinstance(part, exp.EQ):
        return None
    for inner, outer in ((part.this, part.expression), (part.expression, part.this)):
        if (
            isinstance(inner, exp.Column)
            and str(inner.table).lower() in ("", alias)
            and inner.name.lower() == person
            and isinstance(outer, exp.Column)
            and str(outer.table).lower() not in ("", alias)
        ):
            return outer.copy()
    return None
