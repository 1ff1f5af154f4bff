"""Steward policy files for tests that add a project to a copy of the shipped policies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

__all__ = ["write_project"]


def write_project(
    policies: Path, pid: str, *, title: str, members: Sequence[str], epsilon: float,
    per_query: float, tables: Sequence[str] = ("persons",), delta: float = 0.0,
    accounting: str = "pure",
) -> Path:  # fmt: skip
    """Write ``projects/<pid>.toml`` under ``policies``: an approved project with budget
    ``epsilon`` (at most ``per_query`` a query) and ``delta`` that may read every column of
    ``tables``, accounted in ``accounting`` ("pure" ε-DP or "zcdp")."""
    lines = [
        "[project]",
        f"id = {json.dumps(pid)}",
        f"title = {json.dumps(title)}",
        f"members = {json.dumps(list(members))}",
        f"epsilon = {epsilon!r}",
        f"max_epsilon_per_query = {per_query!r}",
        *([f"delta = {delta!r}"] if delta else []),
        *([f"accounting = {json.dumps(accounting)}"] if accounting != "pure" else []),
        "",
        "[project.tables]",
        *(f'{table} = ["*"]' for table in tables),
    ]
    path = policies / "projects" / f"{pid}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
