"""Patient-level tables: a WITH body grouped by the person column is one row per person.

``WITH er AS (SELECT person_id, COUNT(*) AS visits, MIN(visit_date) AS first_visit
FROM claims WHERE setting = 'emergency' GROUP BY person_id)`` defines a table with one row
per person, each value a function of that person's own rows only. The outer query uses it
like ``persons``: joined on the person column, filtered, grouped and aggregated with DP.

What a body may hold (anything else is refused):

* ``FROM`` one protected table of the dataset (no joins), an optional row ``WHERE``;
* ``GROUP BY`` the table's person column, which is also selected under its own name;
* every other item aliased and built from per-person aggregates — ``COUNT(*)``,
  ``COUNT(x)``, ``COUNT(DISTINCT x)``, ``SUM``, ``AVG``, ``MIN``, ``MAX`` (numbers or
  dates), ``BOOL_OR``/``BOOL_AND`` (flags, released as 0/1) — and the scalar expressions
  the rest of the gateway allows; an optional ``HAVING`` on those aggregates;
* identifiers only as the person column and inside ``COUNT(DISTINCT …)``.

Every expression is typed like the rest of the query (``rules.total_expressions``), integer
leaves are computed in DOUBLE and every numeric output is a DOUBLE (so nothing outside
can overflow); the plan wraps what could fail in ``TRY``. Each output column gets a role and
bounds for the outer query: numbers ``[lo, hi]`` by interval arithmetic (a count is in
``[0, auto_max_rows]``, a sum in that many times its argument's interval, an average or
extreme in its argument's; the SQL clamps to them wherever a value is aggregated), dates
their column's range. The table itself is a protected table of one row per person, so a
query reading only such tables and ``persons`` needs no rows bound (``plan.contribution``).

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> cat = Catalog.example()
>>> tree = sqlglot.parse_one(
...     "WITH er AS (SELECT person_id, COUNT(*) AS n FROM claims WHERE setting = 'emergency' "
...     "GROUP BY person_id) SELECT COUNT(*) FROM persons p JOIN er ON er.person_id = p.person_id "
...     "WHERE er.n >= 2")
>>> outer, tables = split_person_tables(tree, cat)
>>> [(c.name, c.role, c.lower, c.upper) for c in tables[0].table.columns]
[('person_id', 'identifier', None, None), ('n', 'numeric', 0.0, 512.0)]
>>> tables[0].body.sql()
"SELECT claims.person_id AS person_id, CAST(COUNT(*) AS DOUBLE) AS n FROM claims AS claims WHERE claims.setting = 'emergency' GROUP BY claims.person_id"
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.catalog import Catalog, ValueType
from enclave.gateway.check.intervals import Interval, interval
from enclave.gateway.check.rules.allowed_nodes import allowed_nodes
from enclave.gateway.check.rules.promote_numbers import promote_numbers
from enclave.gateway.check.rules.total_expressions import Typer
from enclave.gateway.check.rules.total_functions import check_arguments
from enclave.gateway.values import PersonTable
from enclave.policy import ColumnPolicy, TablePolicy

__all__ = [
    "PERSON_AGGREGATES",
    "PersonTable",
    "is_person_table",
    "split_person_tables",
    "with_bodies",
]

#: the per-person aggregates a patient-level body may use
PERSON_AGGREGATES: tuple[type[exp.Expression], ...] = (
    exp.Count,
    exp.Sum,
    exp.Avg,
    exp.Min,
    exp.Max,
    exp.LogicalOr,
    exp.LogicalAnd,
)
_BODY_ARGS = frozenset({"expressions", "from_", "where", "group", "having"})
_SHAPE = (
    "A patient-level WITH body reads one table and groups by its person column: "
    "name AS (SELECT person_id, COUNT(*) AS n, … FROM claims WHERE … GROUP BY person_id "
    "[HAVING …]) — no joins, DISTINCT, ORDER BY, LIMIT, windows or nested WITH."
)
_DOUBLE = exp.DataType.build("DOUBLE")


def is_person_table(body: exp.Expression) -> bool:
    """Whether a WITH body is a patient-level table (a SELECT with GROUP BY)."""
    return isinstance(body, exp.Select) and body.args.get("group") is not None


def split_person_tables(
    select: exp.Select, cat: Catalog
) -> tuple[exp.Select, tuple[PersonTable, ...]]:
    """Take the patient-level WITH bodies out of ``select`` (in place), checked and typed."""
    with_ = select.args.get("with_")
    if with_ is None:
        return select, ()
    found: list[PersonTable] = []
    for cte in list(with_.expressions):
        if not is_person_table(cte.this):
            continue
        name = cte.alias.lower()
        if cat.table(name) is not None:
            raise QueryRejected(f"The WITH name {name} is a dataset table; choose another name.")
        found.append(_person_table(name, cte.this, cat))
        cte.pop()
    if not with_.expressions:
        select.set("with_", None)
    return select, tuple(found)


def with_bodies(select: exp.Select, tables: tuple[PersonTable, ...]) -> exp.Select:
    """A copy of ``select`` with the patient-level bodies back in its WITH clause."""
    out = select.copy()
    for t in tables:
        out = out.with_(t.name, as_=t.body.copy(), copy=False)
    return out


def _person_table(name: str, body: exp.Select, cat: Catalog) -> PersonTable:
    body = body.copy()
    for key, value in body.args.items():
        if key not in _BODY_ARGS and value not in (None, False, []):
            raise QueryRejected(_SHAPE)
    table, alias = _base_table(body, cat)
    _qualify(body, table, alias, cat)
    person = table.person_column or ""
    _check_group(body, alias, person)
    typer = Typer({alias: table.name}, cat)
    where = body.args.get("where")
    if where is not None:
        allowed_nodes(where.this)
        typer.want(where.this, "bool")
    columns = [ColumnPolicy(person, "identifier")]
    items: list[exp.Expr] = [exp.column(person, table=alias).as_(person)]
    for item in body.expressions:
        if _is_person_column(item, alias, person):
            continue
        expr, column = _output(item, typer, table, alias, cat)
        items.append(expr)
        columns.append(column)
    body.set("expressions", items)
    having = body.args.get("having")
    if having is not None:
        body.set("having", exp.Having(this=_having(having.this, body, typer, table, cat)))
    promote_numbers(body, cat)
    virtual = TablePolicy(
        name, protected=True, person_column=person, columns=tuple(columns), one_row_per_person=True
    )
    return PersonTable(name, body, virtual)


def _base_table(body: exp.Select, cat: Catalog) -> tuple[TablePolicy, str]:
    from_ = body.args.get("from_")
    node = from_.this if from_ is not None else None
    if body.args.get("joins") or not isinstance(node, exp.Table) or node.args.get("db"):
        raise QueryRejected(_SHAPE)
    table = cat.table(str(node.name).lower())
    if table is None or not table.protected or table.person_column is None:
        raise QueryRejected(
            "A patient-level WITH body must read one protected table of the dataset "
            "(claims, diagnoses, prescriptions or persons)."
        )
    if not cat.table_allowed(table.name):
        raise PolicyViolation(f"Table {table.name} is not available to this project.")
    alias = (node.alias or table.name).lower()
    node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    node.set("this", exp.to_identifier(table.name))
    return table, alias


def _qualify(body: exp.Select, table: TablePolicy, alias: str, cat: Catalog) -> None:
    outputs = {e.alias.lower() for e in body.expressions if isinstance(e, exp.Alias)}
    for column in list(body.find_all(exp.Column)):
        qualifier, name = str(column.table).lower(), str(column.name).lower()
        if isinstance(column.this, exp.Star):
            raise QueryRejected(_SHAPE)
        if not qualifier and name in outputs and _in_having(column):
            continue  # an output alias in HAVING (resolved by ``_having``)
        if qualifier not in ("", alias) or table.column(name) is None:
            raise QueryRejected(
                f"{name[:64]} is not a column of {table.name}; a patient-level WITH body "
                "reads one table."
            )
        if not cat.allowed(table.name, name):
            raise PolicyViolation(
                f"Column {table.name}.{name[:64]} is not available to this project."
            )
        column.set("table", exp.to_identifier(alias))
        column.set("this", exp.to_identifier(name))


def _in_having(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        if isinstance(parent, exp.Having):
            return True
        parent = parent.parent
    return False


def _check_group(body: exp.Select, alias: str, person: str) -> None:
    keys = body.args["group"].expressions
    if len(keys) != 1 or not _is_person_column(keys[0], alias, person):
        raise QueryRejected(_SHAPE)
    selected = [e for e in body.expressions if _is_person_column(e, alias, person)]
    if len(selected) != 1:
        raise QueryRejected(
            f"Select the person column ({person}) once, under its own name, so the outer "
            "query can join on it."
        )


def _is_person_column(node: exp.Expression, alias: str, person: str) -> bool:
    inner = node.this if isinstance(node, exp.Alias) else node
    if isinstance(node, exp.Alias) and node.alias.lower() != person:
        return False
    return (
        isinstance(inner, exp.Column)
        and str(inner.name).lower() == person
        and str(inner.table).lower() in ("", alias)
    )


def _output(
    item: exp.Expression, typer: Typer, table: TablePolicy, alias: str, cat: Catalog
) -> tuple[exp.Expr, ColumnPolicy]:
    if not isinstance(item, exp.Alias) or not item.alias:
        raise QueryRejected("Name every patient-level column with AS (e.g. COUNT(*) AS n).")
    name = item.alias.lower()
    expr, kind, bounds = _per_person(item.this, typer, table, cat)
    if kind == "date":
        lower, upper = bounds
        column = ColumnPolicy(name, "date", lower, upper)
    else:
        if kind == "bool":
            expr = exp.Case(ifs=[exp.If(this=expr, true=exp.Literal.number(1))]).else_("0")
            bounds = (0.0, 1.0)
        expr = exp.cast(expr, _DOUBLE)
        column = ColumnPolicy(name, "numeric", float(bounds[0]), float(bounds[1]))
    return exp.alias_(expr, name), column


def _per_person(
    expr: exp.Expression, typer: Typer, table: TablePolicy, cat: Catalog
) -> tuple[exp.Expr, ValueType, Interval]:
    """The item with each aggregate typed and cast, its type and its bounds."""
    holder = exp.Paren(this=expr.copy())
    aggregates = [a for a in holder.find_all(exp.AggFunc) if a.find_ancestor(exp.AggFunc) is None]
    if not aggregates:
        raise QueryRejected(
            "Every patient-level column aggregates the person's rows (COUNT, SUM, AVG, MIN, "
            "MAX, BOOL_OR); group keys other than the person column are not allowed."
        )
    types: dict[str, ValueType] = {}
    bounds: dict[str, Interval] = {}
    restore: dict[str, exp.Expr] = {}
    for i, agg in enumerate(aggregates):
        placeholder = f"__g{i}"
        kind, bound = _aggregate(agg, typer, table, cat)
        types[placeholder], bounds[placeholder] = kind, bound
        restore[placeholder] = (
            agg.copy() if kind in ("date", "bool") else exp.cast(agg.copy(), _DOUBLE)
        )
        agg.replace(exp.column(placeholder))
    expr = holder.this
    allowed_nodes(expr)
    kind = Typer(typer.tables, cat, aliases=types).type(expr)
    if isinstance(expr, exp.Column) and kind == "date":
        result: Interval = bounds[expr.name]
    elif kind in ("num", "bool"):
        result = _numeric_bounds(expr, bounds, kind)
    else:
        raise QueryRejected(
            "A patient-level column must be a number, a flag or a date (MIN/MAX of a date)."
        )
    return _substitute(expr, restore), kind, result


def _substitute(expr: exp.Expression, restore: dict[str, exp.Expr]) -> exp.Expr:
    def back(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in restore:
            return restore[node.name].copy()
        return node

    return expr.transform(back)


def _numeric_bounds(expr: exp.Expression, bounds: dict[str, Interval], kind: str) -> Interval:
    if kind == "bool":
        return (0.0, 1.0)

    def leaf(column: exp.Column) -> Interval:
        if column.table or column.name not in bounds:
            raise QueryRejected("A patient-level column may use the person's aggregates only.")
        return bounds[column.name]

    return interval(expr, leaf)


def _aggregate(
    agg: exp.AggFunc, typer: Typer, table: TablePolicy, cat: Catalog
) -> tuple[ValueType, Interval]:
    if type(agg) not in PERSON_AGGREGATES:
        raise QueryRejected(
            f"{type(agg).__name__.upper()} is not a per-person aggregate here; use COUNT, "
            "SUM, AVG, MIN, MAX, BOOL_OR or BOOL_AND."
        )
    if any(True for _ in agg.this.find_all(exp.AggFunc)) if agg.this else False:
        raise QueryRejected("Aggregates cannot be nested.")
    check_arguments(agg)
    rows_cap = float(cat.dataset.contribution.auto_max_rows)
    if isinstance(agg, exp.Count):
        arg = agg.this
        inner = arg.this if isinstance(arg, exp.Distinct) else arg
        if isinstance(arg, exp.Distinct):
            if len(arg.expressions) != 1:
                raise QueryRejected("COUNT(DISTINCT …) takes one expression.")
            inner = arg.expressions[0]
        if inner is not None and not isinstance(inner, exp.Star):
            _identifiers_only_counted(inner, table, distinct=isinstance(arg, exp.Distinct))
            allowed_nodes(inner)
            typer.type(inner)
        return "num", (0.0, rows_cap)
    _identifiers_only_counted(agg.this, table, distinct=False)
    allowed_nodes(agg.this)
    if isinstance(agg, (exp.LogicalOr, exp.LogicalAnd)):
        typer.want(agg.this, "bool")
        return "bool", (0.0, 1.0)
    kind = typer.type(agg.this)
    if isinstance(agg, (exp.Min, exp.Max)) and kind == "date":
        return "date", _date_range(agg.this, table)
    if kind not in ("num", "null"):
        raise QueryRejected(f"{type(agg).__name__.upper()} needs a number here.")
    lo, hi = interval(agg.this, _column_bounds(table))
    if isinstance(agg, exp.Sum):
        return "num", (min(0.0, lo * rows_cap), max(0.0, hi * rows_cap))
    return "num", (lo, hi)


def _column_bounds(table: TablePolicy) -> Callable[[exp.Column], Interval]:
    def leaf(column: exp.Column) -> Interval:
        policy = table.column(str(column.name).lower())
        if policy is None or policy.role != "numeric" or policy.lower is None:
            raise QueryRejected(
                "Per-person sums and averages take numeric columns with bounds in the dataset "
                "policy (e.g. amount, los_days)."
            )
        return float(policy.lower), float(policy.upper if policy.upper is not None else 0.0)

    return leaf


def _date_range(arg: exp.Expression, table: TablePolicy) -> Interval:
    policy = table.column(str(arg.name).lower()) if isinstance(arg, exp.Column) else None
    if policy is None or policy.role != "date":
        raise QueryRejected("MIN/MAX of a date takes a date column (e.g. visit_date).")
    return policy.lower, policy.upper  # type: ignore[return-value]


def _identifiers_only_counted(
    node: exp.Expression | None, table: TablePolicy, *, distinct: bool
) -> None:
    for column in node.find_all(exp.Column) if node is not None else ():
        policy = table.column(str(column.name).lower())
        if policy is not None and policy.role in ("identifier", "join"):
            if distinct and isinstance(node, exp.Column):
                continue
            raise PolicyViolation(
                f"{policy.name} is an identifier; a patient-level body may only count its "
                "distinct values (COUNT(DISTINCT …))."
            )


def _having(
    condition: exp.Expression, body: exp.Select, typer: Typer, table: TablePolicy, cat: Catalog
) -> exp.Expr:
    outputs = {e.alias.lower(): e.this for e in body.expressions if isinstance(e, exp.Alias)}

    def resolve(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in outputs:
            return outputs[node.name.lower()].copy()
        return node

    resolved = condition.transform(resolve)
    typed, kind, _ = _per_person(exp.Paren(this=resolved), typer, table, cat)
    if kind != "bool":
        raise QueryRejected("HAVING needs a condition (true or false for each person).")
    return typed
