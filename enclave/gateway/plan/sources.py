"""Resolve the sources of a checked SELECT: which table (or CTE) each column comes from.

The front half guarantees a FROM of policy tables or plain filter/projection CTEs over one
policy table, joined on person columns. This module answers, for a column reference in
the outer query: the policy table and column it reads (or the CTE expression it stands
for), and builds the per-row person expression (adding the person column to CTEs that do
not project it).

>>> import sqlglot
>>> from enclave.policy import load_dataset_policy
>>> from enclave.settings import REPO_POLICIES
>>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
>>> ast = sqlglot.parse_one("SELECT count(*) FROM claims c WHERE c.amount > 5", dialect="duckdb")
>>> scope = Scope.build(ast, ds)
>>> scope.person_sql()
'c.person_id'
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot.expressions as exp

from enclave.errors import InternalError, QueryRejected
from enclave.policy import DatasetPolicy, TablePolicy

__all__ = ["Scope", "Source"]

PID_ALIAS = "__pid"


@dataclass(frozen=True)
class Source:
    """One FROM/JOIN item: the alias it is known by and the policy table it reads."""

    alias: str
    table: TablePolicy
    select: exp.Select | None  # the CTE/subquery body, None for a bare table


@dataclass
class Scope:
    """Sources of one (copied, mutable) SELECT; build with ``Scope.build``."""

    ast: exp.Select
    dataset: DatasetPolicy
    sources: list[Source]

    @classmethod
    def build(cls, ast: exp.Select, dataset: DatasetPolicy) -> Scope:
        ctes: dict[str, exp.Select] = {}
        with_ = ast.args.get("with_")
        if with_ is not None:
            for cte in with_.expressions:
                body = cte.this
                if not isinstance(body, exp.Select):
                    raise QueryRejected("A WITH clause may only hold plain SELECT filters.")
                ctes[cte.alias_or_name.lower()] = body
        items: list[exp.Expression] = []
        from_ = ast.args.get("from_")
        if from_ is None:
            raise QueryRejected("The query needs a FROM clause naming a table.")
        items.append(from_.this)
        items.extend(j.this for j in ast.args.get("joins") or [])
        sources = [cls._source(item, ctes, dataset) for item in items]
        return cls(ast, dataset, sources)

    @staticmethod
    def _source(item: exp.Expression, ctes: dict[str, exp.Select], ds: DatasetPolicy) -> Source:
        if isinstance(item, exp.Subquery) and isinstance(item.this, exp.Select):
            body = item.this
            return Source(item.alias_or_name.lower(), _body_table(body, ds), body)
        if isinstance(item, exp.Table):
            name = item.name.lower()
            alias = (item.alias or item.name).lower()
            if name in ctes:
                return Source(alias, _body_table(ctes[name], ds), ctes[name])
            table = ds.table(name)
            if table is None:
                raise QueryRejected(f"Table {name} is not in the dataset policy.")
            return Source(alias, table, None)
        raise QueryRejected("FROM may name tables and WITH filters only.")

    def source_of(self, col: exp.Column) -> Source:
        """The source a column reference reads from (qualified, or unambiguous)."""
        qual = col.table.lower()
        if qual:
            for s in self.sources:
                if s.alias == qual:
                    return s
            raise QueryRejected(f"Unknown table alias {qual} in a column reference.")
        name = col.name.lower()
        hits = [s for s in self.sources if name in _columns_of(s)]
        if len(hits) != 1:
            raise QueryRejected(f"Qualify column {name} with its table (e.g. c.{name}).")
        return hits[0]

    def definition(self, col: exp.Column) -> exp.Expression:
        """The column as an expression over its base table's columns (unqualified)."""
        src = self.source_of(col)
        name = col.name.lower()
        if src.select is None:
            return exp.column(name)
        for proj in src.select.expressions:
            if proj.alias_or_name.lower() == name:
                inner = proj.this if isinstance(proj, exp.Alias) else proj
                return _unqualify(inner.copy())
        raise QueryRejected(f"Column {name} is not produced by its WITH clause.")

    def expand(self, expr: exp.Expression) -> tuple[exp.Expression, set[str]]:
        """``expr`` with every column replaced by its definition; and the tables it reads."""
        tables: set[str] = set()

        def swap(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column):
                tables.add(self.source_of(node).table.name)
                return self.definition(node)
            return node

        return expr.copy().transform(swap), tables

    def person_sql(self) -> str:
        """SQL for the row's person: the first non-null person column of a protected source."""
        parts: list[str] = []
        for s in self.sources:
            if not s.table.protected:
                continue
            person = s.table.person_column
            if person is None:
                raise InternalError("protected table without a person column")
            if s.select is None:
                parts.append(f"{s.alias}.{person}")
            else:
                if PID_ALIAS not in _columns_of(s):
                    s.select.append("expressions", exp.column(person).as_(PID_ALIAS))
                parts.append(f"{s.alias}.{PID_ALIAS}")
        if not parts:
            raise QueryRejected(
                "Queries must read at least one protected table; public code lists can be "
                "used directly."
            )
        return parts[0] if len(parts) == 1 else "COALESCE(" + ", ".join(parts) + ")"


def _body_table(body: exp.Select, ds: DatasetPolicy) -> TablePolicy:
    from_ = body.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or body.args.get("joins"):
        raise QueryRejected("A WITH clause must filter one table (no joins).")
    table = ds.table(from_.this.name.lower())
    if table is None:
        raise QueryRejected(f"Table {from_.this.name} is not in the dataset policy.")
    return table


def _columns_of(s: Source) -> set[str]:
    if s.select is None:
        return {c.name for c in s.table.columns}
    return {p.alias_or_name.lower() for p in s.select.expressions}


def _unqualify(expr: exp.Expression) -> exp.Expression:
    for col in expr.find_all(exp.Column):
        col.set("table", None)
    return expr
