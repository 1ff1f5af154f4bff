"""Adapter for an NHI-style extract (a folder of CSV files) into the canonical tables.

Files (UTF-8, header, comma, ISO dates): persons, providers, claims, diagnoses,
prescriptions. ``_injected.csv`` and ``extract.json`` are not data and are not read as
rows (``extract.json`` may give the ``reference_date`` used for top-coding ages).

Mapping: ``person_id`` = token(person, national_id); ``claim_id`` = token(claim,
claim_no); ``provider_id`` = token(provider, provider_code); birth date → birth year,
top-coded so that nobody is older than 90 at the reference date; names and addresses
are never extracted from the raw lines; region is kept from its own column.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from pseudonymize.adapters._context import StageContext
from pseudonymize.adapters._csv import stage_csv
from pseudonymize.adapters._stage import (
    FileCounts,
    StageResult,
    bad_keys,
    child_refs,
    duplicates,
    init_quarantine,
    load_claims,
    reject,
    settle,
)
from pseudonymize.tokens import token_sql
from pseudonymize.validate import (
    bad_atc,
    bad_check_digit,
    bad_date,
    bad_icd10,
    bad_id_format,
    bad_int,
    bad_number,
    date_out_of_range,
    missing,
    negative,
    not_in,
    optional,
    outside,
)

__all__ = ["FILES", "stage_nhi"]

FILES = ("persons.csv", "providers.csv", "claims.csv", "diagnoses.csv", "prescriptions.csv")
_EARLIEST = dt.date(1900, 1, 1)
_DATE = "try_strptime({}, '%Y-%m-%d')"


def _lit(day: dt.date) -> str:
    """A DATE literal for the reference date (a date, never a data value)."""
    return f"DATE '{day.isoformat()}'"


def _id_rules(col: str) -> list[tuple[str, str]]:
    return [("bad_id_format", bad_id_format(col)), ("bad_check_digit", bad_check_digit(col))]


def _amount_rules(days: str) -> list[tuple[str, str]]:
    """An amount (a number, not negative) and an optional count of ``days`` up to 366."""
    return [
        ("malformed_number", bad_number("amount")),
        ("malformed_number", optional(days, bad_int(days))),
        ("negative_amount", negative("amount")),
        ("out_of_range", f"coalesce({outside(days, 0, 366)}, false)"),
    ]


def _reference_date(con: duckdb.DuckDBPyConnection, source: Path, today: dt.date) -> dt.date:
    meta = source / "extract.json"
    if meta.is_file():
        try:
            value = json.loads(meta.read_text(encoding="utf-8")).get("reference_date")
            if value:
                return min(dt.date.fromisoformat(str(value)), today)
        except (ValueError, OSError, AttributeError):
            pass
    row = con.execute(
        "SELECT max(visit_date) FROM s_claims WHERE visit_date <= $today", {"today": today}
    ).fetchone()
    return row[0] if row and row[0] else today


def _persons(con: duckdb.DuckDBPyConnection, ctx: StageContext, ref: dt.date, path: Path) -> int:
    rules = [
        ("missing_value", missing("national_id", "sex", "region")),
        *_id_rules("national_id"),
        ("malformed_date", bad_date("birth_date")),
        ("out_of_range", date_out_of_range("birth_date", _EARLIEST, ref)),
        ("bad_sex", not_in("sex", ("F", "M"))),
    ]
    if ctx.regions:
        rules.append(("unknown_region", not_in("region", ctx.regions)))
    if ctx.insurance_categories:
        cats = not_in("insurance_category", ctx.insurance_categories)
        rules.append(("bad_code", f"coalesce({cats}, false)"))
    exprs = ("national_id", f"{_DATE.format('birth_date')}::DATE AS birth", "sex", "region",
             "insurance_category")  # fmt: skip
    info = stage_csv(con, path, "s_persons", _COLUMNS["persons"], exprs, rules)
    reject(con, "s_persons", duplicates("s_persons", ("national_id",), "duplicate_person"))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE k_persons AS SELECT national_id, "
        f"{token_sql('national_id', 'person')} AS person_id, "
        f"CASE WHEN date_sub('year', birth, {_lit(ref)}) > 89 THEN year({_lit(ref)}) - 90 "
        "ELSE year(birth) END::INTEGER AS birth_year, sex, region, insurance_category "
        "FROM s_persons WHERE reason IS NULL",
        ctx.keys("person"),
    )
    bad_keys(con, "b_persons", "s_persons", "national_id")
    ctx.add(
        "persons", "SELECT person_id, birth_year, sex, region, insurance_category FROM k_persons"
    )
    return info.rows_read


def _providers(con: duckdb.DuckDBPyConnection, ctx: StageContext, path: Path) -> int:
    rules = [("missing_value", missing("provider_code", "provider_type", "region"))]
    if ctx.provider_types:
        rules.append(("bad_code", not_in("provider_type", ctx.provider_types)))
    if ctx.regions:
        rules.append(("unknown_region", not_in("region", ctx.regions)))
    cols = _COLUMNS["providers"]
    info = stage_csv(con, path, "s_providers", cols, cols, rules)
    reject(con, "s_providers", duplicates("s_providers", ("provider_code",), "duplicate_provider"))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE k_providers AS SELECT provider_code, "
        f"{token_sql('provider_code', 'provider')} AS provider_id, provider_type, region "
        "FROM s_providers WHERE reason IS NULL",
        ctx.keys("provider"),
    )
    bad_keys(con, "b_providers", "s_providers", "provider_code")
    ctx.add("providers", "SELECT provider_id, provider_type, region FROM k_providers")
    return info.rows_read


def _read_claims(con: duckdb.DuckDBPyConnection, ctx: StageContext, path: Path) -> int:
    rules = [
        ("missing_value", missing("claim_no", "national_id", "provider_code", "setting", "amount")),
        # then the identifier rules (_id_rules), applied after the scan by recheck
        ("malformed_date", bad_date("visit_date")),
        ("out_of_range", date_out_of_range(_DATE.format("visit_date"), _EARLIEST, ctx.today)),
        ("bad_setting", not_in("setting", ctx.settings)),
        ("bad_code", f"icd10 IS NOT NULL AND ({bad_icd10('icd10')})"),
        *_amount_rules("los_days"),
    ]  # fmt: skip
    exprs = ("claim_no", "national_id", "provider_code",
             f"{_DATE.format('visit_date')}::DATE AS visit_date", "setting", "icd10",
             "TRY_CAST(amount AS DOUBLE) AS amount", "TRY_CAST(los_days AS INTEGER) AS los_days")  # fmt: skip
    return stage_csv(con, path, "s_claims", _COLUMNS["claims"], exprs, rules).rows_read


def _diagnoses(con: duckdb.DuckDBPyConnection, ctx: StageContext, path: Path) -> int:
    rules = [
        ("missing_value", missing("claim_no", "national_id", "position", "icd10")),
        # then _id_rules, applied by child_refs
        ("bad_code", bad_icd10("icd10")),
        ("malformed_number", bad_int("position")),
        ("out_of_range", outside("position", 1, 99)),
    ]
    exprs = ("claim_no", "national_id", "TRY_CAST(position AS INTEGER) AS position", "icd10")
    info = stage_csv(con, path, "s_diagnoses", _COLUMNS["diagnoses"], exprs, rules)
    child_refs(con, "s_diagnoses", _id_rules("national_id"))
    dups = duplicates("s_diagnoses", ("claim_no", "position"), "duplicate_diagnosis")
    reject(con, "s_diagnoses", dups)
    ctx.add(
        "diagnoses",
        "SELECT k.claim_id, k.person_id, 'ICD-10', d.icd10, d.position FROM s_diagnoses d "
        "JOIN k_claims k ON k.claim_no = d.claim_no WHERE d.reason IS NULL",
    )
    return info.rows_read


def _prescriptions(con: duckdb.DuckDBPyConnection, ctx: StageContext, path: Path) -> int:
    rules = [
        ("missing_value", missing("claim_no", "national_id", "atc_code", "amount")),
        # then _id_rules, applied by child_refs
        ("bad_code", bad_atc("atc_code")),
        *_amount_rules("days_supply"),
    ]  # fmt: skip
    exprs = ("claim_no", "national_id", "atc_code",
             "TRY_CAST(days_supply AS INTEGER) AS days_supply",
             "TRY_CAST(amount AS DOUBLE) AS amount")  # fmt: skip
    info = stage_csv(con, path, "s_prescriptions", _COLUMNS["prescriptions"], exprs, rules)
    child_refs(con, "s_prescriptions", _id_rules("national_id"))
    ctx.add(
        "prescriptions",
        "SELECT k.claim_id, k.person_id, 'ATC', d.atc_code, d.days_supply, d.amount "
        "FROM s_prescriptions d JOIN k_claims k ON k.claim_no = d.claim_no "
        "WHERE d.reason IS NULL",
    )
    return info.rows_read


_COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("national_id", "birth_date", "sex", "region", "insurance_category"),
    "providers": ("provider_code", "provider_type", "region"),
    "claims": ("claim_no", "national_id", "provider_code", "visit_date", "setting", "icd10",
               "amount", "los_days"),
    "diagnoses": ("claim_no", "national_id", "position", "icd10"),
    "prescriptions": ("claim_no", "national_id", "atc_code", "days_supply", "amount"),
}  # fmt: skip


def stage_nhi(con: duckdb.DuckDBPyConnection, source: Path, ctx: StageContext) -> StageResult:
    """Check an NHI-style extract, append its good rows (``ctx.add``), quarantine the rest.

    Each file is scanned once; its staging table is dropped as soon as its rows are
    loaded and its bad lines are in the ``quarantine`` table.
    """
    init_quarantine(con)
    files: dict[str, FileCounts] = {}

    def done(table: str, rows_read: int, drop: bool = True) -> None:
        files[table] = settle(con, f"{table}.csv", f"s_{table}", table, rows_read)
        if drop:
            con.execute(f"DROP TABLE s_{table}")
        ctx.step(f"checked {table}.csv")

    claims_read = _read_claims(con, ctx, source / "claims.csv")
    ref = _reference_date(con, source, ctx.today)
    done("persons", _persons(con, ctx, ref, source / "persons.csv"))
    done("providers", _providers(con, ctx, source / "providers.csv"))
    load_claims(con, ctx, _id_rules("national_id"))
    done("claims", claims_read)
    done("diagnoses", _diagnoses(con, ctx, source / "diagnoses.csv"))
    done("prescriptions", _prescriptions(con, ctx, source / "prescriptions.csv"))
    order = ("persons", "providers", "claims", "diagnoses", "prescriptions")
    return StageResult(tuple(files[t] for t in order), ref.isoformat(), {})
