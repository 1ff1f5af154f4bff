"""The canonical warehouse schema: the names researchers write SQL against.

``person_id`` is the privacy unit everywhere: a keyed token, never a source identifier.
"""

from __future__ import annotations

__all__ = ["DDL", "PUBLIC_TABLES", "SETTINGS", "TABLES"]

SETTINGS = ("outpatient", "inpatient", "emergency", "pharmacy")

#: table -> ordered (column, DuckDB type)
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "persons": (
        ("person_id", "VARCHAR"),
        ("birth_year", "INTEGER"),
        ("sex", "VARCHAR"),
        ("region", "VARCHAR"),
        ("insurance_category", "VARCHAR"),
    ),
    "providers": (
        ("provider_id", "VARCHAR"),
        ("provider_type", "VARCHAR"),
        ("region", "VARCHAR"),
    ),
    "claims": (
        ("claim_id", "VARCHAR"),
        ("person_id", "VARCHAR"),
        ("provider_id", "VARCHAR"),
        ("visit_date", "DATE"),
        ("setting", "VARCHAR"),
        ("icd10", "VARCHAR"),
        ("amount", "DOUBLE"),
        ("los_days", "INTEGER"),
    ),
    "diagnoses": (
        ("claim_id", "VARCHAR"),
        ("person_id", "VARCHAR"),
        ("code_system", "VARCHAR"),
        ("code", "VARCHAR"),
        ("position", "INTEGER"),
    ),
    "prescriptions": (
        ("claim_id", "VARCHAR"),
        ("person_id", "VARCHAR"),
        ("code_system", "VARCHAR"),
        ("drug_code", "VARCHAR"),
        ("days_supply", "INTEGER"),
        ("amount", "DOUBLE"),
    ),
}

PUBLIC_TABLES = ("providers",)

DDL = tuple(
    f"CREATE TABLE IF NOT EXISTS {name} (" + ", ".join(f"{col} {typ}" for col, typ in cols) + ")"
    for name, cols in TABLES.items()
)
