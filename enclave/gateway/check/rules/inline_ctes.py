"""Qualify every column with its table alias, then inline WITH clauses into the query.

A WITH body must be a plain row filter/projection over one dataset table:
``name AS (SELECT <col | expr AS alias | *>, … FROM <table> [WHERE …])``. Inlining puts
the table in place of the name (keeping the alias), substitutes each output column by its
expression, and moves the body's WHERE into the query's WHERE (or into the ON of a LEFT
JOIN, where it belongs). The back half therefore never sees a WITH clause.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> cat = Catalog.example()
>>> tree = sqlglot.parse_one(
...     "WITH flu AS (SELECT setting AS s FROM claims WHERE icd10 LIKE 'J1%') "
...     "SELECT s, COUNT(*) FROM flu GROUP BY s")
>>> inline_ctes(qualify_columns(tree, cat), cat).sql()
"SELECT flu.setting AS s, COUNT(*) FROM claims AS flu WHERE flu.icd10 LIKE 'J1%' GROUP BY flu.setting"
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.names import sources
from enclave.gateway.check.rules.allowed_columns import Resolver

__all__ = ["inline_ctes", "inline_filters", "qualify_columns"]

_PLAIN = (
    "A WITH body (or a subquery in FROM) that does not group by the person column may "
    "only filter rows and pick columns of one table: "
    "name AS (SELECT col, expr AS alias, … FROM table WHERE …) — no joins, aggregates, "
    "DISTINCT, GROUP BY, ORDER BY, LIMIT or nested WITH."
)
_BODY_CLAUSES = frozenset({"expressions", "from_", "where"})


def qualify_columns(tree: exp.Expression, cat: Catalog) -> exp.Expression:
    """Set every column's table to the alias of the source it resolves to (in place)."""
    resolve = Resolver(tree, cat)
    for column in list(tree.find_all(exp.Column)):
        if isinstance(column.this, exp.Star):
            continue
        src = resolve(column)
        if src is not None:
            column.set("table", exp.to_identifier(src.alias))
    return tree


def _outputs(body: exp.Expression, cat: Catalog) -> tuple[exp.Select, dict[str, exp.Expression]]:
    if not isinstance(body, exp.Select):
        raise QueryRejected(_PLAIN)
    for key, value in body.args.items():
        if key not in _BODY_CLAUSES and value not in (None, False, []):
            raise QueryRejected(_PLAIN)
    from_ = body.args.get("from_")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or cat.table(str(table.name).lower()) is None:
        raise QueryRejected(_PLAIN)
    if any(True for _ in body.find_all(exp.AggFunc)):
        raise QueryRejected(_PLAIN)
    outputs: dict[str, exp.Expression] = {}
    tname = str(table.name).lower()
    for item in body.expressions:
        if isinstance(item, exp.Star):
            for col in cat.allowed_columns(tname):
                outputs.setdefault(col, exp.column(col))
            continue
        name = item.alias_or_name.lower()
        expr = item.this if isinstance(item, exp.Alias) else item
        if name in outputs or not name:
            raise QueryRejected(f"Name every WITH column once (give {name or 'it'} an alias).")
        outputs[name] = expr
    return body, outputs


def _requalify(expr: exp.Expression, alias: str) -> exp.Expression:
    expr = expr.copy()
    for column in expr.find_all(exp.Column):
        column.set("table", exp.to_identifier(alias))
    return expr


def inline_filters(
    body: exp.Expression, plain: dict[str, exp.Expression], cat: Catalog
) -> exp.Expression:
    """``body`` (a copy) with the filter-only WITH bodies it reads (``plain``, by name)
    inlined, as the outer query's are: a patient-level or window body may read
    ``inp AS (SELECT * FROM claims WHERE setting = 'inpatient')``. A ``*`` over a body
    that names its columns becomes those columns.

    >>> import sqlglot
    >>> inp = sqlglot.parse_one("SELECT person_id, amount AS cost FROM claims WHERE los_days > 0")
    >>> body = sqlglot.parse_one("SELECT person_id, SUM(cost) AS s FROM inp GROUP BY person_id")
    >>> inline_filters(body, {"inp": inp}, Catalog.example()).sql()
    'SELECT inp.person_id AS person_id, SUM(inp.amount) AS s FROM claims AS inp WHERE inp.los_days > 0 GROUP BY inp.person_id'
    """
    if not isinstance(body, exp.Select) or body.args.get("with_") is not None:
        return body
    nodes = [body.args["from_"].this] if body.args.get("from_") else []
    nodes += [j.this for j in body.args.get("joins") or ()]
    names = [
        str(n.name).lower() for n in nodes if isinstance(n, exp.Table) and not n.args.get("db")
    ]
    read = [n for n in dict.fromkeys(names) if n in plain]
    if not read:
        return body
    out = body.copy()
    if len(read) == 1:
        _expand_star(out, plain[read[0]], cat)
    for name in read:
        out = out.with_(name, as_=plain[name].copy(), copy=False)
    qualify_columns(out, cat)
    return inline_ctes(out, cat)


def _expand_star(select: exp.Select, body: exp.Expression, cat: Catalog) -> None:
    """Replace ``*`` in ``select`` by the output columns of ``body`` unless it has ``*`` too."""
    items = select.expressions
    star = [
        e for e in items if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)
    ]
    _, outputs = _outputs(body, cat)
    if not star or any(isinstance(e, exp.Star) for e in body.expressions):
        return
    expanded: list[exp.Expression] = []
    for item in items:
        expanded.extend([exp.column(n) for n in outputs] if item in star else [item])
    select.set("expressions", expanded)


def inline_ctes(select: exp.Select, cat: Catalog) -> exp.Select:
    """Replace WITH names by their table, columns by expressions, and merge the filters."""
    with_ = select.args.get("with_")
    if with_ is None:
        return select
    if with_.args.get("recursive"):
        raise QueryRejected(_PLAIN)
    bodies = {cte.alias.lower(): _outputs(cte.this, cat) for cte in with_.expressions}
    used: set[str] = set()
    nodes = [select.args["from_"].this] if select.args.get("from_") else []
    joins = list(select.args.get("joins") or ())
    nodes += [j.this for j in joins]
    scope = sources(select)
    for node, src in zip(nodes, scope.values(), strict=True):
        if not isinstance(node, exp.Table) or src.body is None:
            continue
        name = str(node.name).lower()
        if name in used:
            raise QueryRejected(
                f"The WITH name {name} is used twice; a table may not be joined to itself."
            )
        used.add(name)
        body, outputs = bodies[name]
        alias = src.alias
        for column in list(select.find_all(exp.Column)):
            if str(column.table).lower() != alias or isinstance(column.this, exp.Star):
                continue
            cname = str(column.name).lower()
            if cname not in outputs:
                raise QueryRejected(f"{name} has no column {cname[:64]}; add it to the WITH body.")
            replacement: exp.Expr = _requalify(outputs[cname], alias)
            if column.parent is select and column.arg_key == "expressions":
                replacement = exp.alias_(replacement, cname, copy=False)
            column.replace(replacement)
        join = node.parent if isinstance(node.parent, exp.Join) else None
        node.replace(exp.to_table(str(body.args["from_"].this.name).lower()).as_(alias))
        where = body.args.get("where")
        if where is None:
            continue
        predicate = _requalify(where.this, alias)
        if join is not None and join.side.upper() == "LEFT":
            on = join.args.get("on")
            join.set("on", exp.and_(on, predicate) if on is not None else predicate)
        else:
            select.where(predicate, copy=False)
    select.set("with_", None)
    return select
