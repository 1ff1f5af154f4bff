"""One person's privacy loss across every project a dataset serves, and its ceiling.

Each project's budget bounds what its releases may spend on one person; the projects
(the standing indicators' project among them) all read the same people, so under the
ledger's composition rule (basic: ε and δ add up) one person's total loss is the sum of
the projects' budgets. A project counts from approval on, with its top-ups, while it is
active or suspended (it may be resumed); a pending or rejected one counts for nothing; a
project counts for at least what it has spent, even once its policy is gone.

Everything is summed in the ledger's integer units (micro-ε, δ in 1e-15), so the total
is exact.

>>> files = {"a": Budget(3_000_000, 0), "b": Budget(10_000_000, 1_000_000_000)}
>>> state = _State(statuses={"b": "suspended", "c": "pending"}, rules={},
...                topups={"a": Budget(500_000, 0)}, spent={})
>>> losses = project_losses(files, state)
>>> losses["a"].epsilon, losses["b"].delta, losses["c"].epsilon
(3500000, 1000000000, 0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enclave.errors import PolicyViolation
from enclave.store._types import to_delta_units, to_micro_eps

if TYPE_CHECKING:
    from enclave.policy import PrivacyCeiling, ProjectPolicy

__all__ = [
    "ZERO",
    "Budget",
    "Loss",
    "budget_of",
    "file_budgets",
    "project_losses",
    "read_state",
    "refuse_past_ceiling",
    "rules_budget",
    "total",
]

#: Statuses whose budget is not (or no longer) spendable.
_NOT_APPROVED = frozenset({"pending", "rejected"})


@dataclass(frozen=True)
class Budget:
    """ε (micro-units) and δ (units of 1e-15)."""

    epsilon: int
    delta: int

    def __add__(self, other: Budget) -> Budget:
        return Budget(self.epsilon + other.epsilon, self.delta + other.delta)

    def __sub__(self, other: Budget) -> Budget:
        return Budget(self.epsilon - other.epsilon, self.delta - other.delta)

    def at_least(self, other: Budget) -> Budget:
        return Budget(max(self.epsilon, other.epsilon), max(self.delta, other.delta))


ZERO = Budget(0, 0)


@dataclass(frozen=True)
class Loss:
    """What one project may spend on one person, and what it has spent (integer units)."""

    status: str
    epsilon: int
    delta: int
    epsilon_spent: int
    delta_spent: int

    @property
    def budget(self) -> Budget:
        return Budget(self.epsilon, self.delta)


@dataclass(frozen=True)
class _State:
    """The store's side of every project, read in one transaction."""

    statuses: Mapping[str, str]
    rules: Mapping[str, Budget]
    topups: Mapping[str, Budget]
    spent: Mapping[str, Budget]


def budget_of(epsilon: Any, delta: Any) -> Budget:
    """A policy's limits in ledger units, rounded as the ledger rounds limits (down)."""
    return Budget(
        to_micro_eps(float(epsilon or 0), charge=False),
        to_delta_units(float(delta or 0), charge=False),
    )


def rules_budget(rules: Mapping[str, Any]) -> Budget:
    """The budget of a steward's approval rules (validated ones)."""
    return budget_of(rules.get("epsilon"), rules.get("delta"))


def file_budgets(files: Mapping[str, ProjectPolicy]) -> dict[str, Budget]:
    return {pid: budget_of(p.epsilon, p.delta) for pid, p in files.items()}


def read_state(store: Any) -> _State:
    """Statuses, approval rules, project top-ups and spending, in one read transaction."""
    statuses, rules, topups, spent = store.ledger.loss_rows()

    def budgets(sums: Mapping[str, tuple[int, int]]) -> dict[str, Budget]:
        return {p: Budget(e, d) for p, (e, d) in sums.items()}

    granted = {p: rules_budget(json.loads(body)) for p, body in rules.items()}
    return _State(statuses, granted, budgets(topups), budgets(spent))


def project_losses(files: Mapping[str, Budget], state: _State) -> dict[str, Loss]:
    """Every project's loss: policy files, store projects and anything that spent."""
    ids = sorted(set(files) | set(state.statuses) | set(state.spent))
    out: dict[str, Loss] = {}
    for pid in ids:
        status = state.statuses.get(pid, "active" if pid in files else "removed")
        base = state.rules.get(pid, files.get(pid, ZERO))
        budget = ZERO if status in _NOT_APPROVED else base + state.topups.get(pid, ZERO)
        spent = state.spent.get(pid, ZERO)
        loss = budget.at_least(spent)
        out[pid] = Loss(status, loss.epsilon, loss.delta, spent.epsilon, spent.delta)
    return out


def total(losses: Mapping[str, Loss]) -> Budget:
    out = ZERO
    for loss in losses.values():
        out = out + loss.budget
    return out


def _fmt(units: int, *, delta: bool) -> str:
    if delta:
        return f"{units / 10**15:.3g}"
    return f"{units / 10**6:.6f}".rstrip("0").rstrip(".")


def refuse_past_ceiling(
    ceiling: PrivacyCeiling, dataset: str, others: Budget, requested: Budget, what: str
) -> None:
    """PolicyViolation if ``others + requested`` passes the ceiling (Requested/Remaining).

    ``others`` is everything counted now; ``requested`` is what the action adds to it.

    >>> from enclave.policy import PrivacyCeiling
    >>> refuse_past_ceiling(PrivacyCeiling(10.0), "d", Budget(8_000_000, 0),
    ...                     Budget(3_000_000, 0), "approving project 'p'")
    Traceback (most recent call last):
    enclave.errors.PolicyViolation: Requested ε=3 for approving project 'p'; remaining ε=2 \
under the privacy ceiling of dataset 'd' (difference 1). Lower the request, or raise \
[privacy] max_total_epsilon in the dataset policy.
    """
    limits = (
        ("ε", "max_total_epsilon", ceiling.max_total_epsilon, others.epsilon, requested.epsilon),
        ("δ", "max_total_delta", ceiling.max_total_delta, others.delta, requested.delta),
    )
    for sym, key, limit, used, asked in limits:
        if limit is None or asked <= 0:
            continue
        is_delta = sym == "δ"
        cap = budget_of(0, limit).delta if is_delta else budget_of(limit, 0).epsilon
        left = max(0, cap - used)
        if asked > left:
            raise PolicyViolation(
                f"Requested {sym}={_fmt(asked, delta=is_delta)} for {what}; remaining "
                f"{sym}={_fmt(left, delta=is_delta)} under the privacy ceiling of dataset "
                f"{dataset!r} (difference {_fmt(asked - left, delta=is_delta)}). Lower the "
                f"request, or raise [privacy] {key} in the dataset policy."
            )
