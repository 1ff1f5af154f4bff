"""Age bands of the denominator release: the query, its reference year and the bands shown.

The gateway releases every 10-year band its public domain allows (birth_year 1900–2026
gives ages −10 to 120 at a reference year of 2024). What the page and the API show merges
them, by post-processing: the band below 0 (born after the reference year) joins 0–9 and
the bands from 90 on are one "90+"; merged values add up and their standard errors add in
quadrature (95% interval ± 1.96 SE, clipped at 0).

>>> age_sql(2024)
'SELECT FLOOR((2024 - birth_year) / 10) * 10 AS age_band, COUNT(*) AS persons FROM persons GROUP BY age_band'
>>> rows = [(-10, 1, 2.0, 0, 5), (0, 10, 2.0, 6, 14), (90, 4, 2.0, 0, 8), (100, 0, 2.0, 0, 4)]
>>> [(b["band"], b["persons"]) for b in merged_bands(rows)]
[('0–9', 11.0), ('90+', 4.0)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from enclave.settings import Settings

__all__ = ["AGE_PERIOD", "REGION_PERIOD", "age_bands_of", "age_sql", "merged_bands",
           "reference_year"]  # fmt: skip

REGION_PERIOD, AGE_PERIOD = "persons", "persons-by-age"
_TOP = 90


def age_sql(year: int) -> str:
    """The gateway query of the persons per 10-year age band reached in ``year``."""
    return (
        f"SELECT FLOOR(({int(year)} - birth_year) / 10) * 10 AS age_band, COUNT(*) AS persons "
        "FROM persons GROUP BY age_band"
    )


def reference_year(dataset: Any, period_key_set: str) -> int:
    """The year of the last week of the indicators' week key set."""
    keys = dataset.key_set(period_key_set)
    weeks = [str(v) for v in keys.values] if keys is not None else []
    return int(max(weeks)[:4]) if weeks else 2024


def _label(band: int) -> str:
    return f"{_TOP}+" if band >= _TOP else f"{band}–{band + 9}"


def merged_bands(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """(band, value, se, low, high) rows of the release → the bands shown, youngest first."""
    sums: dict[int, list[float]] = {}
    for band, value, se, *_ in rows:
        b = min(max(int(float(band)), 0), _TOP)
        acc = sums.setdefault(b, [0.0, 0.0])
        acc[0] += float(value)
        acc[1] += float(se) ** 2
    out = []
    for b in sorted(sums):
        value, se = sums[b][0], math.sqrt(sums[b][1])
        out.append({"band": _label(b), "persons": value, "se": se,
                    "ci_low": max(0.0, value - 1.96 * se), "ci_high": value + 1.96 * se})  # fmt: skip
    return out


def age_bands_of(settings: Settings) -> list[dict[str, Any]]:
    """The published persons per age band (merged for showing), or empty before it."""
    from enclave.indicators._published import Published, published_path

    path = published_path(settings.home)
    rec = Published(path).get("denominators", AGE_PERIOD) if path.is_file() else None
    if rec is None or rec.status != "published":
        return []
    return merged_bands(rec.rows)
