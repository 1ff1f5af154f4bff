"""Checks of what a steward (or researcher) types: ids, numbers, status filters.

Each check raises ``UserError`` with a message that says what is allowed; none echoes
more than the name of the field.

>>> validate_id("project id", "flu-study", PROJECT_ID)
'flu-study'
>>> validate_id("project id", "Bad_Name", PROJECT_ID)
Traceback (most recent call last):
...
enclave.errors.UserError: A project id is 2-63 characters: lowercase letters, digits and dashes, starting with a letter or digit (e.g. flu-study).
>>> positive("epsilon", 0.5)
0.5
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from enclave.errors import UserError
from enclave.store._types import ROLES

__all__ = [
    "PROJECT_ID",
    "REVIEW_STATUSES",
    "ROLES",
    "USER_ID",
    "IdRule",
    "positive",
    "review_status",
    "validate_id",
]


@dataclass(frozen=True)
class IdRule:
    """A pattern and how to say it to a person."""

    pattern: str
    allowed: str


PROJECT_ID = IdRule(
    r"[a-z0-9][a-z0-9-]{1,62}",
    "2-63 characters: lowercase letters, digits and dashes, starting with a letter or "
    "digit (e.g. flu-study)",
)
USER_ID = IdRule(
    r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}",
    "1-128 characters: letters, digits and . _ @ -, no spaces, starting with a letter or "
    "digit (e.g. alice@uni)",
)
REVIEW_STATUSES = ("pending", "approved", "rejected")


def validate_id(what: str, value: Any, rule: IdRule) -> str:
    """``value`` if it is a well-formed id, else a UserError saying what is allowed."""
    if not isinstance(value, str) or re.fullmatch(rule.pattern, value) is None:
        article = "An" if what[0] in "aeiou" else "A"
        raise UserError(f"{article} {what} is {rule.allowed}.")
    return value


def positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """A finite number above 0 (or ≥ 0); bools and strings are not numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{name} must be a number.")
    if value < 0 or (value == 0 and not allow_zero):
        raise UserError(f"{name} must be {'0 or more' if allow_zero else 'more than 0'}.")
    return float(value)


def review_status(status: str | None) -> str | None:
    """None (every review) or one of pending, approved, rejected."""
    if status is not None and status not in REVIEW_STATUSES:
        raise UserError(f"A review status is one of {', '.join(REVIEW_STATUSES)}.")
    return status
