"""Row checks as small SQL predicate builders: each returns SQL that is TRUE for a bad row.

An adapter lists, per file, ordered ``(reason, predicate)`` pairs; :func:`reason_case`
turns them into one ``CASE`` so each bad row gets exactly one reason: the first that
applies. Predicates assume earlier ones were false (e.g. the check digit is tested only
on values of the right shape) and use ``TRY_CAST`` so no row can abort the load.

>>> reason_case([("missing_value", missing("a")), ("bad_sex", not_in("a", ["F", "M"]))])
"CASE WHEN (a IS NULL) THEN 'missing_value' WHEN (a NOT IN ('F', 'M')) THEN 'bad_sex' END"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from pseudonymize.national_id import LETTER_CODES, WEIGHTS

__all__ = [
    "Rule",
    "bad_atc",
    "bad_check_digit",
    "bad_date",
    "bad_icd10",
    "bad_id_format",
    "bad_int",
    "bad_number",
    "bad_timestamp",
    "bad_uuid",
    "date_out_of_range",
    "missing",
    "negative",
    "not_in",
    "optional",
    "outside",
    "reason_case",
    "sql_str",
]

Rule = tuple[str, str]


def sql_str(value: str) -> str:
    """A SQL string literal (for policy constants, never for data values)."""
    return "'" + value.replace("'", "''") + "'"


def _check(template: str, doc: str) -> Callable[[str], str]:
    """A one-column check: ``template`` with the column in place of ``{col}``."""

    def check(col: str) -> str:
        return template.format(col=col)

    check.__doc__ = doc
    return check


bad_id_format = _check(
    "NOT regexp_full_match({col}, '[A-Z][12][0-9]{{8}}')",
    "Not a letter, a sex digit (1/2) and eight more digits.",
)
bad_date = _check(
    "try_strptime({col}, '%Y-%m-%d') IS NULL", "Not an ISO date YYYY-MM-DD that exists."
)
bad_timestamp = _check(
    "TRY_CAST(replace({col}, 'Z', '') AS TIMESTAMP) IS NULL",
    "Not an ISO-8601 timestamp (Synthea writes ``…T…Z``) or date.",
)
bad_number = _check(
    "TRY_CAST({col} AS DOUBLE) IS NULL OR NOT isfinite(TRY_CAST({col} AS DOUBLE))",
    "Not a finite number.",
)
bad_int = _check("TRY_CAST({col} AS INTEGER) IS NULL", "Not an integer.")
bad_uuid = _check("TRY_CAST({col} AS UUID) IS NULL", "Not a UUID.")
negative = _check("TRY_CAST({col} AS DOUBLE) < 0", "A number below zero.")
bad_icd10 = _check(
    "NOT regexp_full_match({col}, '[A-Z][0-9][0-9A-Z](\\.?[0-9A-Z]{{1,4}})?')",
    "ICD-10 shape: letter, two characters, optional dot and up to four more.",
)
bad_atc = _check(
    "NOT regexp_full_match({col}, '[A-Z]([0-9]{{2}}([A-Z]([A-Z]([0-9]{{2}})?)?)?)?')",
    "ATC shape at any level: A, A01, A01B, A01BC, A01BC01.",
)


def missing(*cols: str) -> str:
    return " OR ".join(f"{c} IS NULL" for c in cols)


def bad_check_digit(col: str) -> str:
    """Weighted digit sum not a multiple of 10 (shape already checked).

    Integer arithmetic on the nine digits (one cast) and a list lookup for the letter,
    so it costs a few vector operations per row.
    """
    codes = [LETTER_CODES[chr(c)] for c in range(ord("A"), ord("Z") + 1)]
    code = f"{codes}[ascii({col}) - 64]"
    num = f"CAST(substr({col}, 2) AS BIGINT)"
    terms = [f"{WEIGHTS[0]} * ({code} // 10)", f"{WEIGHTS[1]} * ({code} % 10)"]
    terms += [f"{w} * ({num} // {10 ** (8 - i)} % 10)" for i, w in enumerate(WEIGHTS[2:])]
    return f"({' + '.join(terms)}) % 10 <> 0"


def date_out_of_range(expr: str, lo: dt.date, hi: dt.date) -> str:
    return f"({expr})::DATE NOT BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}'"


def outside(col: str, lo: float, hi: float) -> str:
    return f"TRY_CAST({col} AS DOUBLE) NOT BETWEEN {lo} AND {hi}"


def not_in(col: str, values: Iterable[str]) -> str:
    return f"{col} NOT IN ({', '.join(sql_str(v) for v in values)})"


def optional(col: str, predicate: str) -> str:
    """``predicate`` applied only where ``col`` is present (empty is allowed)."""
    return f"({col} IS NOT NULL AND ({predicate}))"


def reason_case(rules: Sequence[Rule]) -> str:
    """One CASE giving the first failing rule's reason (NULL when the row is good)."""
    whens = " ".join(f"WHEN ({pred}) THEN {sql_str(reason)}" for reason, pred in rules)
    return f"CASE {whens} END"
