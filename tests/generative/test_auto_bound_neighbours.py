"""The "auto" rows bound and the dry run on neighbouring warehouses: one person added (the
adversary of ``tests._neighbours``: hundreds of claims, extreme values) never changes
whether a request is released or refused, nor what a dry run says (its half-widths,
ranges, bound ceiling and refusal come from the plan and the budget, never the data).

Routes: a half_width ask that the per-query cap fits only below the worst-case bound
(the ceiling), the adversary's own region (a population of one person, the fallback), a
filter that keeps only the adversary's heavy rows, AVG by a public key, several public
cells, and a dry run of each.
"""

from __future__ import annotations

from typing import Any

import pytest

from enclave.gateway import QueryRequest, dry_run
from tests._neighbours import Pair, outcome, pair_fixture

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "ceiling": (
        "SELECT COUNT(*) AS n FROM claims WHERE setting = 'inpatient'",
        {"epsilon": None, "half_width": 60.0},
    ),
    "ceiling-too-narrow": (
        "SELECT COUNT(*) AS n FROM claims",
        {"epsilon": None, "half_width": 0.5},
    ),
    "one-person-population": (  # the adversary's region: no one else lives there
        f"SELECT COUNT(*) AS n {J} WHERE p.region = 'Lienchiang'",
        {"epsilon": 1.0},
    ),
    "heavy-rows-only": ("SELECT COUNT(*) AS n FROM claims WHERE amount > 1e6", {"epsilon": 1.0}),
    "avg-by-sex": (f"SELECT p.sex, AVG(c.amount) AS m {J} GROUP BY p.sex", {"epsilon": 0.7}),
    "cells": ("SELECT setting, SUM(los_days) AS s FROM claims GROUP BY setting", {"epsilon": 0.9}),
    # "auto" value clamps: the adversary's amounts are far past every candidate
    "clamp-cells": (f"SELECT p.region, SUM(c.amount) AS s {J} GROUP BY p.region", {"epsilon": 1.0}),
    "clamp-one-person-population": (
        f"SELECT AVG(c.amount) AS m, STDDEV(c.amount) AS sd {J} WHERE p.region = 'Lienchiang'",
        {"epsilon": 1.0},
    ),
    # a cohort of one (the adversary's own code) whose patient-level cost is clamped
    "clamp-cohort-of-one": (
        "WITH c AS (SELECT person_id, SUM(amount) AS cost FROM claims GROUP BY person_id) "
        "SELECT SUM(c.cost) AS s, STDDEV(c.cost) AS sd FROM c WHERE c.person_id IN "
        "(SELECT person_id FROM claims WHERE icd10 = 'Q99.9')",
        {"epsilon": 1.0},
    ),
    # the clamp's histogram also counts rows of private keys the threshold drops
    "clamp-private-key": (
        "SELECT icd10, SUM(amount) AS s FROM claims GROUP BY icd10",
        {"epsilon": 1.0},
    ),
    # SUMs clamp (person, group) totals: the adversary's claims span several settings
    "group-clamp-settings": (
        "SELECT setting, SUM(amount) AS s FROM claims GROUP BY setting",
        {"epsilon": 1.0},
    ),
    "group-clamp-beside-count": (
        f"SELECT c.setting, COUNT(*) AS n, SUM(c.amount) AS s {J} WHERE p.region = 'Lienchiang' "
        "GROUP BY c.setting",
        {"epsilon": 1.0},
    ),
    "group-clamp-half-width": (
        "SELECT setting, SUM(amount) AS s FROM claims GROUP BY setting",
        {"epsilon": None, "half_width": 1e9},
    ),
    # an AVG clamps each kept (person, group)'s share, read in a second pass at the chosen
    # c: a share that only the adversary has, and one under private keys
    "avg-share-adversary-only": (
        f"SELECT c.setting, AVG(CASE WHEN p.region = 'Lienchiang' THEN c.amount ELSE 0 END) "
        f"AS m {J} GROUP BY c.setting",
        {"epsilon": 1.0},
    ),
    "avg-share-private-key": (
        "SELECT icd10, AVG(los_days) AS m, COUNT(*) AS n FROM claims GROUP BY icd10",
        {"epsilon": 1.0},
    ),
    "clamp-half-width": (
        "SELECT SUM(amount) AS s FROM claims",
        {"epsilon": None, "half_width": 1e7},
    ),
}


pair = pair_fixture("auto-neighbours")


def _preview(ctx: Any, sql: str, ask: dict[str, Any]) -> dict[str, Any] | tuple[str, ...]:
    try:
        out = dry_run(QueryRequest(sql=sql, project="demo", user="researcher@demo", **ask), ctx)
    except Exception as exc:
        return ("refused", type(exc).__name__, str(exc))
    out.pop("budget_remaining")  # the releases charged so far differ by route order only
    return out


@pytest.mark.parametrize("route", list(ROUTES))
def test_auto_bound_outcome_and_preview_are_the_same_on_neighbours(route: str, pair: Pair) -> None:
    sql, ask = ROUTES[route]
    before = _preview(pair.without, sql, ask), _preview(pair.with_, sql, ask)
    assert before[0] == before[1], f"{route}: the dry run depends on one person"
    without, with_ = outcome(pair.without, sql, **ask), outcome(pair.with_, sql, **ask)
    assert without == with_, f"{route}: one person changes the outcome: {without} / {with_}"
