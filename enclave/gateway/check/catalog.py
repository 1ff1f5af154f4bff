"""What the front half knows about the warehouse: tables, column roles, types and access.

A :class:`Catalog` joins the steward's dataset policy, the canonical schema's column types
and (once authorised) the project's allowed columns. Value types are coarse classes used
by the totality checks: ``"num"``, ``"str"``, ``"date"``.

>>> cat = Catalog.example()
>>> cat.column_type("claims", "amount"), cat.column_type("claims", "visit_date")
('num', 'date')
>>> cat.is_integer("claims", "los_days")
True
>>> cat.allowed("prescriptions", "amount")
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from enclave.policy import ColumnPolicy, DatasetPolicy, ProjectPolicy, TablePolicy
from enclave.schema import TABLES
from enclave.settings import REPO_POLICIES

__all__ = ["RESERVED_TABLE_NAMES", "Catalog", "ValueType"]

ValueType = Literal["num", "str", "date", "bool", "null"]

#: Names that must never resolve, whatever the policy says (catalogs, metadata, files).
RESERVED_TABLE_NAMES = frozenset(
    {
        "information_schema",
        "pg_catalog",
        "sqlite_master",
        "sqlite_schema",
        "sqlite_temp_master",
        "main",
        "temp",
        "system",
        "memory",
        "metadata",
        "meta",
    }
)

_NUMERIC_SQL = {"INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE", "FLOAT", "REAL"}
_INTEGER_SQL = {"INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT"}
_ROLE_TYPE: dict[str, ValueType] = {
    "numeric": "num",
    "date": "date",
    "key": "str",
    "code": "str",
    "identifier": "str",
    "join": "str",
}


def _sql_type(table: str, column: str) -> str | None:
    for name, sql_type in TABLES.get(table, ()):
        if name == column:
            return sql_type.upper()
    return None


@dataclass(frozen=True)
class Catalog:
    """The dataset policy seen through one project (``project`` None: before authorise)."""

    dataset: DatasetPolicy
    project: ProjectPolicy | None = None
    #: the query's patient-level tables (``check.person_tables``), visible to it alone
    virtual: tuple[TablePolicy, ...] = ()

    @classmethod
    def example(cls, project: str | None = "demo") -> Catalog:
        """The catalog of the shipped example policies (for docs and doctests)."""
        from enclave.policy import load_dataset_policy, load_project_policies

        root = REPO_POLICIES
        dataset = load_dataset_policy(root / "dataset.toml")
        projects = load_project_policies(root / "projects", dataset)
        return cls(dataset, projects[project] if project else None)

    def with_tables(self, tables: tuple[TablePolicy, ...]) -> Catalog:
        """This catalog with the query's patient-level tables added."""
        return dataclasses.replace(self, virtual=self.virtual + tables)

    def is_virtual(self, name: str) -> bool:
        return any(t.name == name.lower() for t in self.virtual)

    def table(self, name: str) -> TablePolicy | None:
        if name.lower() in RESERVED_TABLE_NAMES or name.lower().startswith("duckdb_"):
            return None
        for t in self.virtual:
            if t.name == name.lower():
                return t
        return self.dataset.table(name)

    def column(self, table: str, column: str) -> ColumnPolicy | None:
        tp = self.table(table)
        return None if tp is None else tp.column(column)

    def column_type(self, table: str, column: str) -> ValueType:
        """Coarse value type; schema types win, roles fill in for columns added later."""
        sql_type = _sql_type(table, column)
        if sql_type is not None:
            if sql_type in _NUMERIC_SQL:
                return "num"
            if sql_type == "DATE":
                return "date"
            return "str"
        col = self.column(table, column)
        return _ROLE_TYPE.get(col.role, "str") if col else "str"

    def is_integer(self, table: str, column: str) -> bool:
        """True when the warehouse stores the column as an integer (arithmetic may overflow)."""
        sql_type = _sql_type(table, column)
        return sql_type in _INTEGER_SQL if sql_type else False

    def table_allowed(self, table: str) -> bool:
        if self.is_virtual(table):  # built from columns the project may read
            return True
        return self.project is None or self.project.allowed_columns(table) is not None

    def allowed(self, table: str, column: str) -> bool:
        """May the project use ``table.column``? (Always True before a project is known.)"""
        if self.column(table, column) is None:
            return False
        if self.project is None or self.is_virtual(table):
            return True
        cols = self.project.allowed_columns(table)
        return cols is not None and ("*" in cols or column in cols)

    def allowed_columns(self, table: str) -> tuple[str, ...]:
        tp = self.table(table)
        if tp is None:
            return ()
        return tuple(c.name for c in tp.columns if self.allowed(table, c.name))

    def allowed_tables(self) -> tuple[str, ...]:
        tables = (*self.dataset.tables, *self.virtual)
        return tuple(t.name for t in tables if self.table_allowed(t.name))
