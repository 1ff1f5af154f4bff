"""Every function in production code fits on a screen: at most 60 lines, def to last line.

Checks ``enclave/`` (the gateway included), ``pseudonymize/`` and ``dashboards/`` with
``ast``; a failure lists each function that is too long, with its length.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests._paths import ROOT

PACKAGES = ("enclave", "pseudonymize", "dashboards")
MAX_LINES = 60


def _too_long(path: Path, base: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES:
                where = path.relative_to(base).as_posix()
                out.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return out


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    long = tmp_path / "long_function.py"
    long.write_text(f"def f():\n{body}\n\n\ndef g():\n    return 1\n", encoding="utf-8")
    assert _too_long(long, tmp_path) == ["long_function.py:1 f (61 lines)"]


def test_every_function_is_at_most_60_lines() -> None:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 100
    too_long = [f for path in files for f in _too_long(path)]
    assert not too_long, "functions over 60 lines:\n" + "\n".join(too_long)
