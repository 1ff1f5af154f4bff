"""The dataset's privacy ceiling in the service: the steward's view of one person's total
loss across projects, and the refusals that keep it under the ceiling.

``Ceiling`` checks the steward actions that add budget (approving a project, a project
top-up) against ``[privacy]`` in the dataset policy before they change anything;
``_refuse.check_policy_files`` does the same for the project policy files when a service
loads them. A refusal is a ``PolicyViolation`` (Requested / Remaining / Difference),
audited with verdict ``refused`` (``_refuse``); nothing else is written.

The check and the change run one after the other under a lock held by this process;
steward actions from several processes at once are not serialised against each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from enclave.service import _loss
from enclave.service._access import require_steward
from enclave.service._refuse import has_ceiling, refuse_audited
from enclave.store._types import COMPOSITION, from_delta_units, from_micro_eps

if TYPE_CHECKING:
    from enclave.policy import DatasetPolicy
    from enclave.service._policies import Policies
    from enclave.settings import Settings
    from enclave.store import Principal, Store

__all__ = ["Ceiling", "DatasetBudget", "ProjectShare"]

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


class Ceiling:
    """Budget-adding steward actions, checked against the dataset's privacy ceiling.

    Args:
        settings: where the standing indicators are defined.
        store: the metadata store (ledger, audit).
        policies: the dataset policy and the project policy files.
    """

    def __init__(self, settings: Settings, store: Store, policies: Policies) -> None:
        self._settings = settings
        self._store = store
        self._policies = policies

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold this process's lock over a check and the change it allows."""
        with _LOCK:
            yield

    def refuse_approval(self, principal: Principal, project: str, rules: dict[str, Any]) -> None:
        """Refuse approving ``project`` with ``rules`` (cleaned) past the ceiling."""
        asked = _loss.rules_budget(rules)
        what = f"approving project {project!r}"
        self._refuse_if_past(principal, "project_active", project, what, lambda _: asked)

    def refuse_top_up(
        self, principal: Principal, project: str, epsilon: float, delta: float
    ) -> None:
        """Refuse a project top-up of ``epsilon`` and ``delta`` past the ceiling."""
        added = _loss.budget_of(epsilon, delta)
        what = f"a top-up of project {project!r}"
        self._refuse_if_past(principal, "top_up", project, what, lambda now: now + added)

    def _refuse_if_past(
        self,
        principal: Principal,
        action: str,
        project: str,
        what: str,
        new: Callable[[_loss.Budget], _loss.Budget],
    ) -> None:
        """Refuse when ``project``'s loss would become ``new(current)`` past the ceiling."""
        dataset = self._policies.dataset
        if not has_ceiling(dataset):
            return
        files = _loss.file_budgets(self._policies.file_projects)
        losses = _loss.project_losses(files, _loss.read_state(self._store))
        mine = losses[project].budget if project in losses else _loss.ZERO
        counted, asked = _loss.total(losses), new(mine) - mine
        who = {"actor": principal.user, "action": action, "project": project}
        refuse_audited(self._store, dataset, counted, asked, what, **who)

    def dataset_loss(self, principal: Principal) -> DatasetBudget:
        """Per dataset: the ε and δ its projects may spend on one person, spent so far,
        and what the ceiling leaves. Reads the policy files as they are (even past the
        ceiling, so the steward can see why they are refused)."""
        require_steward(principal)
        from enclave.indicators import indicators_of

        standing = {ind.project for ind in indicators_of(self._settings)}
        per_indicator = self._indicator_view()
        by_year: dict[str, float] = {}
        for share in per_indicator:
            for year, eps in share["epsilon_by_year"].items():
                by_year[year] = round(by_year.get(year, 0.0) + eps, 9)
        files = self._policies.unchecked_files()
        losses = _loss.project_losses(_loss.file_budgets(files), _loss.read_state(self._store))
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
        return _dataset_budget(self._policies.dataset, losses, shares, per_indicator, by_year)

    def _indicator_view(self) -> list[dict[str, Any]]:
        """The standing indicators' charges per year, from the ledger (years of the
        dataset's week key sets up to this year)."""
        from enclave.indicators import indicator_losses, indicators_of, year_of_week

        inds = indicators_of(self._settings)
        years = {dt.date.today().year}
        for ind in inds:
            weeks = self._policies.dataset.key_set(ind.period_key_set)
            if weeks is not None and weeks.values:
                first = year_of_week(str(weeks.values[0]))
                last = year_of_week(str(weeks.values[-1]))
                years |= set(range(first, max(last, dt.date.today().year) + 1))
        return indicator_losses(self._store, inds, years)


def _dataset_budget(
    dataset: DatasetPolicy,
    losses: Mapping[str, _loss.Loss],
    shares: tuple[ProjectShare, ...],
    per_indicator: list[dict[str, Any]],
    by_year: dict[str, float],
) -> DatasetBudget:
    tot = _loss.total(losses)
    spent_eps = sum(loss.epsilon_spent for loss in losses.values())
    spent_delta = sum(loss.delta_spent for loss in losses.values())
    ceiling = dataset.privacy
    cap = _loss.budget_of(ceiling.max_total_epsilon or 0, ceiling.max_total_delta or 0)
    eps_cap, delta_cap = ceiling.max_total_epsilon, ceiling.max_total_delta
    return DatasetBudget(
        dataset=dataset.name,
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
