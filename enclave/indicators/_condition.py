"""The condition of a standing indicator: which claims qualify a person in a week.

A condition compares columns of one claim ``c`` with literals; nothing else (no
subquery, no other table) passes :func:`check_condition`.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from enclave.errors import PolicyError

__all__ = ["check_condition", "condition_columns"]

#: What a condition on one claim may be built of (no subqueries, no other tables).
_ALLOWED = (
    exp.And, exp.Or, exp.Not, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.In, exp.Like, exp.ILike, exp.Between, exp.Is, exp.Null, exp.Boolean, exp.Literal,
    exp.Column, exp.Identifier, exp.Substring, exp.Lower, exp.Upper, exp.Trim,
)  # fmt: skip


def _parse(text: str, where: str) -> exp.Expression:
    try:
        tree = sqlglot.parse(f"SELECT 1 FROM claims AS c WHERE {text}", read="duckdb")
    except sqlglot.errors.ParseError:
        raise PolicyError(f"{where}.qualifies is not a valid SQL condition; fix it.") from None
    if len(tree) != 1 or not isinstance(tree[0], exp.Select) or tree[0].args.get("where") is None:
        raise PolicyError(f"{where}.qualifies must be one condition on a claim `c`.")
    cond = tree[0].args["where"].this
    assert isinstance(cond, exp.Expression)
    return cond


def check_condition(text: str, *, where: str = "indicator") -> str:
    """The condition, if it only compares columns of one claim ``c`` with literals.

    >>> check_condition("substr(c.icd10, 1, 3) IN ('J09', 'J10')")
    "substr(c.icd10, 1, 3) IN ('J09', 'J10')"
    >>> check_condition("c.person_id IN (SELECT person_id FROM persons)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    enclave.errors.PolicyError: indicator.qualifies may only use ... (found Subquery).
    """
    cond = _parse(text, where)
    for node in cond.walk():
        if not isinstance(node, _ALLOWED):
            raise PolicyError(
                f"{where}.qualifies may only use comparisons, IN, LIKE, BETWEEN, IS NULL, "
                f"AND/OR/NOT, substr/lower/upper/trim, literals and columns of `c` "
                f"(found {type(node).__name__})."
            )
        if isinstance(node, exp.Column) and node.table not in ("", "c"):
            raise PolicyError(f"{where}.qualifies may only read columns of the claim `c`.")
    return text.strip()


def condition_columns(text: str) -> frozenset[str]:
    """The claims columns a condition reads.

    >>> sorted(condition_columns("c.setting = 'emergency' AND icd10 IS NOT NULL"))
    ['icd10', 'setting']
    """
    return frozenset(col.name for col in _parse(text, "indicator").find_all(exp.Column))
