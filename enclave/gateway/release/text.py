"""How a release describes itself in one or two lines (CLI table, researcher page, API).

>>> describe_bounds({"rows_per_person": 5, "rows_per_person_source": "policy",
...                  "groups_per_person": 1, "clamps": {"s": [0.0, 500.0]}})
'bounds applied: rows per person ≤ 5 (policy), groups per person ≤ 1, s clamped to [0, 500]'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enclave.gateway.values import INTERVAL_NOTE

__all__ = ["INTERVAL_NOTE", "describe_bounds"]


def describe_bounds(bounds: Mapping[str, Any]) -> str:
    """The contribution bounds and clamps a release applied, as one line."""
    parts = []
    rows = bounds.get("rows_per_person")
    if rows is not None:
        parts.append(f"rows per person ≤ {rows} ({bounds.get('rows_per_person_source', '')})")
    if bounds.get("groups_per_person") is not None:
        parts.append(f"groups per person ≤ {bounds['groups_per_person']}")
    for name, (lo, hi) in (bounds.get("clamps") or {}).items():
        parts.append(f"{name} clamped to [{lo:g}, {hi:g}]")
    if bounds.get("join_rows_per_table") is not None:
        parts.append(f"joined tables ≤ {bounds['join_rows_per_table']} rows per person each")
    return "bounds applied: " + ", ".join(parts)
