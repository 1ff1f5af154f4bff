"""Refusals past the dataset's privacy ceiling, audited.

A refusal is a ``PolicyViolation`` (Requested / Remaining / Difference) and is audited
with verdict ``refused`` in its own transaction; nothing else is written.
``check_policy_files`` refuses project policy files that together pass the ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from enclave.errors import PolicyViolation
from enclave.service import _loss
from enclave.store._types import AuditRecord, from_delta_units, from_micro_eps

if TYPE_CHECKING:
    from enclave.policy import DatasetPolicy, ProjectPolicy
    from enclave.store import Store

__all__ = ["check_policy_files", "has_ceiling", "refuse_audited"]


def has_ceiling(dataset: DatasetPolicy) -> bool:
    """Whether the dataset policy caps one person's total ε or δ."""
    ceiling = dataset.privacy
    return ceiling.max_total_epsilon is not None or ceiling.max_total_delta is not None


def refuse_audited(
    store: Store,
    dataset: DatasetPolicy,
    counted: _loss.Budget,
    asked: _loss.Budget,
    what: str,
    *,
    actor: str,
    action: str,
    project: str | None,
) -> None:
    """Refuse ``asked`` on top of ``counted`` past the ceiling, and audit the refusal."""
    try:
        _loss.refuse_past_ceiling(dataset.privacy, dataset.name, counted, asked, what)
    except PolicyViolation as exc:
        record = AuditRecord.now(
            action=action, verdict="refused", actor=actor, time=store.now(), project=project,
            epsilon=from_micro_eps(asked.epsilon), delta=from_delta_units(asked.delta),
            error_type=type(exc).__name__, detail="past the dataset's privacy ceiling",
        )  # fmt: skip
        store.audit(record)
        raise


def check_policy_files(
    dataset: DatasetPolicy, store: Store, files: Mapping[str, ProjectPolicy]
) -> None:
    """Refuse (PolicyViolation, audited) project policy files that pass the ceiling."""
    if not has_ceiling(dataset):
        return
    losses = _loss.project_losses(_loss.file_budgets(files), _loss.read_state(store))
    mine = {p: loss for p, loss in losses.items() if p in files}
    others = _loss.total(losses) - _loss.total(mine)
    asked = _loss.total(mine)
    what = "the project policy files"
    refuse_audited(
        store,
        dataset,
        others,
        asked,
        what,
        actor="policy-files",
        action="policy_load",
        project=None,
    )
