"""The research workload: questions as a health-services researcher writes them.

Each question is the SQL sent to the gateway; its group keys (output names); the released
columns measured, each with its kind (count, sum, average, quantile: the kind sets the
target); and the column of the exact answer that holds the number of persons in a cell
(for the "cells with ≥ 1,000 persons" figures). The exact answer is the same SQL run on
raw DuckDB unless ``exact`` holds an equivalent exact SQL (for gateway-only semantics).
The patient-level style (one row per person in a WITH table grouped by the person
column, cohort filters with ``person_id IN (SELECT …)``) is used where it is natural.

>>> len(QUESTIONS) >= 12, len({q.name for q in QUESTIONS}) == len(QUESTIONS)
(True, True)
>>> sorted({m.kind for q in QUESTIONS for m in q.measures})
['average', 'count', 'quantile', 'sum']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["AGE_BAND", "QUESTIONS", "TARGETS", "Kind", "Measure", "Question"]

Kind = Literal["count", "sum", "average", "quantile"]

#: Median relative error targets at 1M persons on cells of ≥ 1,000 persons (issue 13).
TARGETS: dict[str, float] = {"count": 0.05, "sum": 0.05, "average": 0.10, "quantile": 0.10}

#: The age band of docs/sql-reference.md (ages in 2024).
AGE_BAND = (
    "CASE WHEN p.birth_year >= 2007 THEN '0-17' WHEN p.birth_year >= 1985 THEN '18-39' "
    "WHEN p.birth_year >= 1960 THEN '40-64' ELSE '65+' END"
)


@dataclass(frozen=True)
class Measure:
    column: str  # an output column of the query (and of the exact SQL)
    kind: Kind


@dataclass(frozen=True)
class Question:
    name: str
    sql: str
    keys: tuple[str, ...]
    measures: tuple[Measure, ...]
    persons: str  # exact-answer column: persons in the cell
    exact: str | None = None  # an equivalent exact SQL when ``sql`` cannot run raw

    @property
    def exact_sql(self) -> str:
        return self.exact or self.sql


def _m(*pairs: tuple[str, Kind]) -> tuple[Measure, ...]:
    return tuple(Measure(column, kind) for column, kind in pairs)


E11_FLAG = (
    "WITH dm AS (SELECT person_id, MAX(CASE WHEN icd10 LIKE 'E11%' THEN 1 ELSE 0 END) AS e11 "
    "FROM claims GROUP BY person_id) "
)
ER_VISITS = (
    "WITH pt AS (SELECT person_id, COUNT(*) AS n_er FROM claims WHERE setting = 'emergency' "
    "GROUP BY person_id) "
)
READMISSIONS = (
    "WITH ip AS (SELECT person_id, visit_date, "
    "LAG(visit_date) OVER (PARTITION BY person_id ORDER BY visit_date) AS prev_admission "
    "FROM claims WHERE setting = 'inpatient') "
)
DRUGS = (
    "WITH rx AS (SELECT person_id, COUNT(DISTINCT drug_code) AS n_drugs FROM prescriptions "
    "GROUP BY person_id) "
)
ANNUAL_COST = (
    "WITH cost AS (SELECT person_id, SUM(amount) AS annual_cost FROM claims "
    "WHERE visit_date >= DATE '2024-01-01' AND visit_date <= DATE '2024-12-31' "
    "GROUP BY person_id) "
)
FIRST_DM = (
    "WITH first_dm AS (SELECT person_id, MIN(visit_date) AS first_date FROM claims "
    "WHERE icd10 LIKE 'E11%' GROUP BY person_id) "
)
OUTPATIENT = (
    "WITH v AS (SELECT person_id, COUNT(*) AS n_visits FROM claims WHERE setting = 'outpatient' "
    "GROUP BY person_id) "
)
PERSONS_JOIN = "JOIN persons p ON p.person_id = "

QUESTIONS: tuple[Question, ...] = (
    Question(
        "E11 prevalence, region x age band",
        f"{E11_FLAG}SELECT p.region, {AGE_BAND} AS age_band, COUNT(*) AS persons, "
        "SUM(COALESCE(dm.e11, 0)) AS e11_patients, AVG(COALESCE(dm.e11, 0)) AS prevalence "
        "FROM persons p LEFT JOIN dm ON dm.person_id = p.person_id "
        "GROUP BY p.region, age_band",
        ("region", "age_band"),
        _m(("persons", "count"), ("e11_patients", "count"), ("prevalence", "average")),
        "persons",
    ),
    Question(
        "avg inpatient cost per insurance cat.",
        "SELECT p.insurance_category, AVG(c.amount) AS avg_cost, "
        f"COUNT(DISTINCT c.person_id) AS patients FROM claims c {PERSONS_JOIN}c.person_id "
        "WHERE c.setting = 'inpatient' GROUP BY p.insurance_category",
        ("insurance_category",),
        _m(("avg_cost", "average"), ("patients", "count")),
        "patients",
    ),
    Question(
        "monthly COVID admissions",
        "SELECT date_trunc('month', visit_date) AS month, COUNT(*) AS admissions, "
        "COUNT(DISTINCT person_id) AS patients FROM claims "
        "WHERE icd10 LIKE 'U07%' AND setting = 'inpatient' GROUP BY month",
        ("month",),
        _m(
            ("admissions", "count"),
        ),
        "patients",
    ),
    Question(
        "share with >= 2 ER visits, region",
        f"{ER_VISITS}SELECT p.region, COUNT(*) AS persons, "
        "SUM(CASE WHEN pt.n_er >= 2 THEN 1 ELSE 0 END) AS er_2plus, "
        "AVG(CASE WHEN pt.n_er >= 2 THEN 1 ELSE 0 END) AS share_er_2plus "
        "FROM persons p LEFT JOIN pt ON pt.person_id = p.person_id GROUP BY p.region",
        ("region",),
        _m(("er_2plus", "count"), ("share_er_2plus", "average")),
        "persons",
    ),
    Question(
        "30-day readmission rate, region",
        f"{READMISSIONS}SELECT p.region, COUNT(*) AS admissions, "
        "AVG(CASE WHEN date_diff('day', ip.prev_admission, ip.visit_date) <= 30 "
        "THEN 1 ELSE 0 END) AS readmit_30d, COUNT(DISTINCT ip.person_id) AS patients "
        f"FROM ip {PERSONS_JOIN}ip.person_id GROUP BY p.region",
        ("region",),
        _m(("admissions", "count"), ("readmit_30d", "average")),
        "patients",
    ),
    Question(
        "median inpatient LOS, age band",
        f"SELECT {AGE_BAND} AS age_band, MEDIAN(c.los_days) AS median_los, "
        f"COUNT(DISTINCT c.person_id) AS patients FROM claims c {PERSONS_JOIN}c.person_id "
        "WHERE c.setting = 'inpatient' GROUP BY age_band",
        ("age_band",),
        _m(
            ("median_los", "quantile"),
        ),
        "patients",
    ),
    Question(
        "polypharmacy (>= 5 drugs), age band",
        f"{DRUGS}SELECT {AGE_BAND} AS age_band, COUNT(*) AS persons, "
        "SUM(CASE WHEN rx.n_drugs >= 5 THEN 1 ELSE 0 END) AS polypharmacy, "
        "AVG(CASE WHEN rx.n_drugs >= 5 THEN 1 ELSE 0 END) AS share_polypharmacy "
        "FROM persons p LEFT JOIN rx ON rx.person_id = p.person_id GROUP BY age_band",
        ("age_band",),
        _m(("polypharmacy", "count"), ("share_polypharmacy", "average")),
        "persons",
    ),
    Question(
        "E11 + I10 comorbidity, region",
        "SELECT p.region, COUNT(*) AS patients FROM persons p "
        "WHERE p.person_id IN (SELECT person_id FROM diagnoses WHERE code LIKE 'E11%') "
        "AND p.person_id IN (SELECT person_id FROM diagnoses WHERE code LIKE 'I10%') "
        "GROUP BY p.region",
        ("region",),
        _m(
            ("patients", "count"),
        ),
        "patients",
    ),
    Question(
        "p50/p90 annual cost 2024, insurance",
        f"{ANNUAL_COST}SELECT p.insurance_category, "
        "QUANTILE_CONT(cost.annual_cost, 0.5) AS p50_cost, "
        "QUANTILE_CONT(cost.annual_cost, 0.9) AS p90_cost, COUNT(*) AS patients "
        f"FROM cost {PERSONS_JOIN}cost.person_id GROUP BY p.insurance_category",
        ("insurance_category",),
        _m(("p50_cost", "quantile"), ("p90_cost", "quantile")),
        "patients",
    ),
    Question(
        "antibiotic users, sex",
        "SELECT p.sex, COUNT(*) AS users FROM persons p "
        "WHERE p.person_id IN (SELECT person_id FROM prescriptions WHERE drug_code LIKE 'J01%') "
        "GROUP BY p.sex",
        ("sex",),
        _m(
            ("users", "count"),
        ),
        "users",
    ),
    Question(
        "age at first diabetes claim, sex",
        f"{FIRST_DM}SELECT p.sex, AVG(year(f.first_date) - p.birth_year) AS mean_age, "
        "MEDIAN(year(f.first_date) - p.birth_year) AS median_age, COUNT(*) AS patients "
        f"FROM first_dm f {PERSONS_JOIN}f.person_id GROUP BY p.sex",
        ("sex",),
        _m(("mean_age", "average"), ("median_age", "quantile"), ("patients", "count")),
        "patients",
    ),
    Question(
        "total cost 2024, region",
        "SELECT p.region, SUM(c.amount) AS total_cost, COUNT(DISTINCT c.person_id) AS patients "
        f"FROM claims c {PERSONS_JOIN}c.person_id "
        "WHERE c.visit_date >= DATE '2024-01-01' GROUP BY p.region",
        ("region",),
        _m(
            ("total_cost", "sum"),
        ),
        "patients",
    ),
    Question(
        "outpatient visits per person, sex x age",
        f"{OUTPATIENT}SELECT p.sex, {AGE_BAND} AS age_band, COUNT(*) AS persons, "
        "SUM(COALESCE(v.n_visits, 0)) AS visits, AVG(COALESCE(v.n_visits, 0)) AS mean_visits "
        "FROM persons p LEFT JOIN v ON v.person_id = p.person_id GROUP BY p.sex, age_band",
        ("sex", "age_band"),
        _m(("visits", "sum"), ("mean_visits", "average")),
        "persons",
    ),
    Question(
        "population, region",
        "SELECT region, COUNT(*) AS persons FROM persons GROUP BY region",
        ("region",),
        _m(
            ("persons", "count"),
        ),
        "persons",
    ),
)
