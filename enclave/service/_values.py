"""The values the service's collaborators pass each other (``TopUp`` is the store's own).

>>> ask: Precision = {"epsilon": 0.5}
>>> Question("SELECT 1", None, **ask).request("p", "u").epsilon
0.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from enclave.gateway import QueryRequest
from enclave.store import TopUp

__all__ = ["Application", "Precision", "Question", "TopUp"]


class Precision(TypedDict, total=False):
    """How precise an answer is asked to be: the ε to spend, or a target 95% half-width
    (the keywords of ``Service.query``, ``dry_run`` and ``submit_review``)."""

    epsilon: float | None
    half_width: float | None


@dataclass(frozen=True)
class Question:
    """A researcher's query as asked: SQL, project (None: their only one), ε or a target
    95% half-width."""

    sql: str
    project: str | None
    epsilon: float | None = None
    half_width: float | None = None

    def request(self, project: str, user: str) -> QueryRequest:
        """The gateway's request for this question in ``project``, asked by ``user``."""
        return QueryRequest(
            sql=self.sql,
            project=project,
            user=user,
            epsilon=self.epsilon,
            half_width=self.half_width,
        )


@dataclass(frozen=True)
class Application:
    """A project application: what it is for, the tables it needs, the ε it asks for, and
    the researcher a steward applies for (None: the applicant is the caller)."""

    project: str
    title: str
    purpose: str
    tables: tuple[str, ...]
    requested_epsilon: float | None
    applicant: str | None = None
