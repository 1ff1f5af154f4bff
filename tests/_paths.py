"""Where things are, for tests in any folder: the repository root and the SQL fixtures."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FIXTURES", "ROOT"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "spec" / "fixtures" / "gateway"
