"""The values the service's collaborators pass each other (``TopUp`` is the store's own).

>>> Question("SELECT 1", None, epsilon=0.5).request("p", "u").epsilon
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

from enclave.gateway import QueryRequest
from enclave.store import TopUp

__all__ = ["Application", "Question", "TopUp"]


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
