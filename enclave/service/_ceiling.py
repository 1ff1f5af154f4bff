"""The dataset's privacy ceiling in the service: the steward's view of one person's total
loss across projects, and the refusals that keep it under the ceiling.

``CeilingMixin`` wraps the steward actions that add budget (approving a project, a
project top-up) and checks them against ``[privacy]`` in the dataset policy before they
change anything; ``check_policy_files`` does the same for the project policy files when a
service loads them. A refusal is a ``PolicyViolation`` (Requested / Remaining /
Difference) and is audited with verdict ``refused``; nothing else is written.

The check and the change run one after the other under a lock held by this process;
steward actions from several processes at once are not serialised against each other.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from enclave.errors import PolicyViolation
from enclave.service import _loss
from enclave.service._projects import validate_rules
from enclave.service._steward import StewardMixin, require_steward
from enclave.store._types import COMPOSITION, AuditRecord, from_delta_units, from_micro_eps

if TYPE_CHECKING:
    from enclave.policy import DatasetPolicy, ProjectPolicy
    from enclave.settings import Settings

__all__ = ["CeilingMixin", "DatasetBudget", "ProjectShare", "check_policy_files"]

_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ProjectShare:
    """One project's part of the total: what it may spend on one person, and has spent."""

    project: str
    kind: str
    status: str
    epsilon: float
    delta: float
    epsilon_spent: float
    delta_spent: float


@dataclasses.dataclass(frozen=True)
class DatasetBudget:
    """The total ε and δ every project over the dataset may spend on one person.

    ``*_remaining`` is what is left under the ceiling for new budget (None: no ceiling).
    """

    dataset: str
    epsilon_total: float
    delta_total: float
    epsilon_spent: float
    delta_spent: float
    epsilon_ceiling: float | None
    delta_ceiling: float | None
    epsilon_remaining: float | None
    delta_remaining: float | None
    projects: tuple[ProjectShare, ...]
    composition: str = COMPOSITION
    #: Per standing indicator: k, ε per year, ε charged per year and over its lifetime.
    indicators: tuple[dict[str, Any], ...] = ()
    #: The indicators' worst case for one person (qualifying in all of them), per year.
    indicators_epsilon_by_year: dict[str, float] = dataclasses.field(default_factory=dict)
    indicators_epsilon_lifetime: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["projects"] = [dataclasses.asdict(p) for p in self.projects]
        out["indicators"] = [dict(i) for i in self.indicators]
        return out


def _audit_refusal(
    store: Any,
    *,
    actor: str,
    action: str,
    project: str | None,
    asked: _loss.Budget,
    exc: Exception,
) -> None:
    """Audit a refused action with what it asked for (its own transaction: nothing else
    was written)."""
    record = AuditRecord(
        time=store.now(),
        request_id=uuid.uuid4().hex,
        actor=actor,
        project=project,
        action=action,
        verdict="refused",
        epsilon=from_micro_eps(asked.epsilon),
        delta=from_delta_units(asked.delta),
        error_type=type(exc).__name__,
        detail="past the dataset's privacy ceiling",
    )
    store.audit(record)


def check_policy_files(
    dataset: DatasetPolicy, store: Any, files: Mapping[str, ProjectPolicy]
) -> None:
    """Refuse (PolicyViolation, audited) project policy files that pass the ceiling."""
    ceiling = dataset.privacy
    if ceiling.max_total_epsilon is None and ceiling.max_total_delta is None:
        return
    losses = _loss.project_losses(_loss.file_budgets(files), _loss.read_state(store))
    mine = {p: loss for p, loss in losses.items() if p in files}
    others = _loss.total(losses) - _loss.total(mine)
    asked = _loss.total(mine)
    try:
        _loss.refuse_past_ceiling(ceiling, dataset.name, others, asked, "the project policy files")
    except PolicyViolation as exc:
        _audit_refusal(
            store, actor="policy-files", action="policy_load", project=None, asked=asked, exc=exc
        )
        raise


class CeilingMixin(StewardMixin):
    """Budget-adding steward actions, checked against the dataset's privacy ceiling."""

    settings: Settings  # provided by Service

    def _unchecked_files(self) -> dict[str, ProjectPolicy]:
        from enclave.policy import load_project_policies

        return load_project_policies(self.settings.policies_dir / "projects", self.dataset)

    def _losses(self) -> dict[str, _loss.Loss]:
        return _loss.project_losses(
            _loss.file_budgets(self.file_projects), _loss.read_state(self.store)
        )

    def _refuse_if_past(
        self,
        principal: Any,
        action: str,
        project: str,
        what: str,
        new: Callable[[_loss.Budget], _loss.Budget],
    ) -> None:
        """Refuse when ``project``'s loss would become ``new(current)`` past the ceiling."""
        ceiling = self.dataset.privacy
        if ceiling.max_total_epsilon is None and ceiling.max_total_delta is None:
            return
        losses = self._losses()
        mine = losses[project].budget if project in losses else _loss.ZERO
        counted = _loss.total(losses)
        asked = new(mine) - mine
        try:
            _loss.refuse_past_ceiling(ceiling, self.dataset.name, counted, asked, what)
        except PolicyViolation as exc:
            who = {"actor": principal.user, "action": action, "project": project}
            _audit_refusal(self.store, **who, asked=asked, exc=exc)
            raise

    def approve_project(
        self, principal: Any, project: str, rules: dict[str, Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Approve an application, refused if its budget would pass the ceiling."""
        require_steward(principal)
        clean = validate_rules(rules, self.dataset)
        with _LOCK:
            record = self.store.project(project)
            if record is not None and record.status == "pending":
                asked = _loss.rules_budget(clean)
                what = f"approving project {project!r}"
                self._refuse_if_past(principal, "project_active", project, what, lambda _: asked)
            return super().approve_project(principal, project, rules, *args, **kwargs)

    def top_up(
        self,
        principal: Any,
        project: str,
        *,
        epsilon: float,
        delta: float = 0.0,
        reason: str,
        member: str | None = None,
    ) -> dict[str, Any]:
        """Add budget to a project, refused if it would pass the ceiling. A member's top-up
        only raises their share of the project's budget, so it adds nothing to the total."""
        require_steward(principal)
        with _LOCK:
            policy = self.project_policy(project)
            if member is None and policy is not None and epsilon >= 0 and delta >= 0:
                added = _loss.budget_of(epsilon, delta)
                what = f"a top-up of project {project!r}"
                self._refuse_if_past(principal, "top_up", project, what, lambda now: now + added)
            return super().top_up(
                principal, project, epsilon=epsilon, delta=delta, reason=reason, member=member
            )

    def dataset_budget(self, principal: Any) -> dict[str, Any]:
        """Per dataset: the ε and δ its projects may spend on one person, spent so far,
        and what the ceiling leaves (``DatasetBudget`` as JSON). Reads the policy files as
        they are (even past the ceiling, so the steward can see why they are refused)."""
        return self.dataset_loss(principal).to_json()

    def dataset_loss(self, principal: Any) -> DatasetBudget:
        """``dataset_budget`` as a frozen value."""
        require_steward(principal)
        from enclave.indicators import indicators_of

        standing = {ind.project for ind in indicators_of(self.settings)}
        per_indicator = _indicator_view(self)
        by_year: dict[str, float] = {}
        for share in per_indicator:
            for year, eps in share["epsilon_by_year"].items():
                by_year[year] = round(by_year.get(year, 0.0) + eps, 9)
        files = self._unchecked_files()
        losses = _loss.project_losses(_loss.file_budgets(files), _loss.read_state(self.store))
        shares = tuple(
            ProjectShare(
                project=pid,
                kind="standing indicators" if pid in standing else "project",
                status=loss.status,
                epsilon=from_micro_eps(loss.epsilon),
                delta=from_delta_units(loss.delta),
                epsilon_spent=from_micro_eps(loss.epsilon_spent),
                delta_spent=from_delta_units(loss.delta_spent),
            )
            for pid, loss in losses.items()
        )
        tot = _loss.total(losses)
        spent_eps = sum(loss.epsilon_spent for loss in losses.values())
        spent_delta = sum(loss.delta_spent for loss in losses.values())
        ceiling = self.dataset.privacy
        cap = _loss.budget_of(ceiling.max_total_epsilon or 0, ceiling.max_total_delta or 0)
        eps_cap, delta_cap = ceiling.max_total_epsilon, ceiling.max_total_delta
        return DatasetBudget(
            dataset=self.dataset.name,
            epsilon_total=from_micro_eps(tot.epsilon),
            delta_total=from_delta_units(tot.delta),
            epsilon_spent=from_micro_eps(spent_eps),
            delta_spent=from_delta_units(spent_delta),
            epsilon_ceiling=eps_cap,
            delta_ceiling=delta_cap,
            epsilon_remaining=None
            if eps_cap is None
            else from_micro_eps(max(0, cap.epsilon - tot.epsilon)),
            delta_remaining=None
            if delta_cap is None
            else from_delta_units(max(0, cap.delta - tot.delta)),
            projects=shares,
            indicators=tuple(per_indicator),
            indicators_epsilon_by_year=dict(sorted(by_year.items())),
            indicators_epsilon_lifetime=round(sum(by_year.values()), 9),
        )


def _indicator_view(svc: Any) -> list[dict[str, Any]]:
    """The standing indicators' charges per year, from the ledger (years of the dataset's
    week key sets up to this year)."""
    import datetime as dt

    from enclave.indicators import indicator_losses, indicators_of, year_of_week

    inds = indicators_of(svc.settings)
    years = {dt.date.today().year}
    for ind in inds:
        weeks = svc.dataset.key_set(ind.period_key_set)
        if weeks is not None and weeks.values:
            first, last = year_of_week(str(weeks.values[0])), year_of_week(str(weeks.values[-1]))
            years |= set(range(first, max(last, dt.date.today().year) + 1))
    return indicator_losses(svc.store, inds, years)
