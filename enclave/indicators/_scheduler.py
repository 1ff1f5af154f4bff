"""The release scheduler: each indicator's new weeks, noised under the year's ε, published.

For every (indicator, week) not yet released, grouped by calendar year, the scheduler
acts as the indicator's service account in the indicator's project (which must have it
as a member and allow the columns it reads): it charges the year's ε to the project's
ledger once per indicator-year (``_charges``: refused before anything runs if the budget
cannot pay), reads the exact k-bounded counts of those weeks from the warehouse through
the service's sandboxed, read-only engine (``_sql``), adds OpenDP noise calibrated to the
year (``_continual``), keeps each week's noisy rows under (indicator, week), audits it and
publishes it. A week already kept is skipped before anything is read, so re-running costs
nothing and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from enclave.errors import EnclaveError, PolicyViolation, UserError
from enclave.indicators._charges import ensure_charged
from enclave.indicators._continual import COLUMNS, noisy_week
from enclave.indicators._definitions import (
    Indicator,
    definition_hash,
    find,
    load_indicators,
    parse_week,
)
from enclave.indicators._published import Published, PublishedRelease, published_path
from enclave.indicators._sql import year_of_week
from enclave.settings import Settings

if TYPE_CHECKING:
    from enclave.store import Principal

__all__ = ["Outcome", "RunSummary", "indicators_of", "periods_of", "publish", "release_with"]

Which = Literal["next", "all"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one (indicator, week)."""

    indicator: str
    period: str
    result: Literal["released", "skipped", "refused"]
    epsilon: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """Counts of a scheduler run and ε spent; ``outcomes`` lists refusals only."""

    released: int = 0
    published: int = 0
    skipped: int = 0
    refused: int = 0
    epsilon_spent: float = 0.0
    outcomes: tuple[Outcome, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "published": self.published,
            "skipped": self.skipped,
            "refused": self.refused,
            "epsilon_spent": round(self.epsilon_spent, 6),
            "refusals": [o.__dict__ for o in self.outcomes if o.result == "refused"],
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def indicators_of(settings: Settings) -> tuple[Indicator, ...]:
    """The indicators the steward defined (``policies/indicators.toml``)."""
    return load_indicators(settings.policies_dir / "indicators.toml")


def periods_of(settings: Settings, indicator: Indicator, today: dt.date | None = None) -> list[str]:
    """The complete weeks of the indicator's public week key set, oldest first."""
    from enclave.policy import load_dataset_policy

    dataset = load_dataset_policy(settings.policies_dir / "dataset.toml")
    keys = dataset.key_set(indicator.period_key_set)
    if keys is None:
        raise UserError(f"The dataset policy has no key set {indicator.period_key_set!r}.")
    last = (today or dt.date.today()) - dt.timedelta(days=7)
    return [str(w) for w in keys.values if parse_week(str(w)) <= last]


def _service_principal(ind: Indicator) -> Principal:
    """The indicator account (a member of the indicator project by its policy file)."""
    from enclave.store import Principal

    return Principal(user=ind.user, role="researcher", token_id="indicator-scheduler")  # noqa: S106


def _audit(service: Any, ind: Indicator, action: str, detail: str, epsilon: float = 0.0) -> None:
    from enclave.store import AuditRecord

    service.store.audit(
        AuditRecord.now(
            actor=ind.user,
            project=ind.project,
            action=action,
            verdict="published" if action == "publish_indicator" else "released",
            epsilon=epsilon,
            detail=detail,
        )
    )


def _authorised(service: Any, ind: Indicator) -> Any:
    """The indicator project's policy, if its account may read what the indicator reads."""
    from enclave.indicators._condition import condition_columns

    policy = service.require_member(_service_principal(ind), ind.project)
    allowed = {
        "claims": policy.allowed_columns("claims") or (),
        "persons": policy.allowed_columns("persons") or (),
    }
    needed = {
        "claims": condition_columns(ind.qualifies) | {"person_id", "visit_date"},
        "persons": {"person_id", ind.key_column},
    }
    for table, cols in needed.items():
        if "*" not in allowed[table] and not cols <= set(allowed[table]):
            raise PolicyViolation(
                f"Project {ind.project!r} may not read every column indicator {ind.id!r} "
                f"needs from {table}; add them to its policy."
            )
    return policy


def _exact_counts(service: Any, ind: Indicator, year: int, weeks: Sequence[str]) -> Any:
    """(week → key → exact k-bounded count) from the sandboxed, read-only engine."""
    from enclave.indicators._sql import year_sql

    _cols, rows = service.engine.execute(year_sql(ind, year=year, weeks=weeks))
    out: dict[str, dict[str, int]] = {w: {} for w in weeks}
    for week, key, n in rows:
        if key is not None and str(week) in out:
            out[str(week)][str(key)] = int(n)
    return out


def _keys(service: Any, ind: Indicator) -> tuple[str, ...]:
    keys = service.dataset.key_set(ind.key_set)
    if keys is None:
        raise UserError(f"The dataset policy has no key set {ind.key_set!r}.")
    return tuple(str(v) for v in keys.values)


def _release_year(
    service: Any,
    pub: Published,
    ind: Indicator,
    year: int,
    weeks: Sequence[str],
    *,
    publish_now: bool,
) -> list[Outcome]:
    """Charge the year (once), count its weeks in SQL, noise and keep each week."""
    try:
        policy = _authorised(service, ind)
        _charge, charged = ensure_charged(service.store, ind, year, policy)
        counts = _exact_counts(service, ind, year, weeks)
    except EnclaveError as exc:
        why = f"{type(exc).__name__}: {exc.message}"
        return [Outcome(ind.id, w, "refused", error=why) for w in weeks]
    keys, out = _keys(service, ind), []
    for week in weeks:
        rows, acc = noisy_week(
            counts[week], keys, k=ind.periods_per_year, epsilon_year=ind.epsilon_per_year,
            year=year, period=week,
        )  # fmt: skip
        now = _now()
        rec = PublishedRelease(
            indicator=ind.id,
            period=week,
            status="published" if publish_now else "held",
            release_id=uuid.uuid4().hex,
            epsilon=charged,  # what this release charged the ledger: the year's ε, once
            definition=definition_hash(ind),
            released=now,
            published=now if publish_now else None,
            columns=COLUMNS,
            rows=tuple(tuple(r) for r in rows),
            accounting=acc.to_json(),
        )
        if not pub.record(rec):  # another run kept this week first: nothing changes
            out.append(Outcome(ind.id, week, "skipped"))
            continue
        detail = f"{ind.id} {week}: year {year}, k {ind.periods_per_year}"
        _audit(service, ind, "indicator_release", detail, charged)
        if publish_now:
            _audit(service, ind, "publish_indicator", f"{ind.id} {week}")
        out.append(Outcome(ind.id, week, "released", epsilon=charged))
        charged = 0.0
    return out


def _summarise(outcomes: Sequence[Outcome], published: int) -> RunSummary:
    return RunSummary(
        released=sum(o.result == "released" for o in outcomes),
        published=published,
        skipped=sum(o.result == "skipped" for o in outcomes),
        refused=sum(o.result == "refused" for o in outcomes),
        epsilon_spent=sum(o.epsilon for o in outcomes),
        outcomes=tuple(o for o in outcomes if o.result == "refused"),
    )


def _todo(
    settings: Settings,
    pub: Published,
    ind: Indicator,
    period: str | None,
    which: Which,
    today: dt.date | None,
) -> tuple[list[str], list[Outcome]]:
    """The weeks to release for one indicator, and the ones skipped as already kept."""
    if period is not None:
        parse_week(period)
        if pub.get(ind.id, period) is not None:
            return [], [Outcome(ind.id, period, "skipped")]
        return [period], []
    weeks = periods_of(settings, ind, today)
    done = {r.period for r in pub.releases(indicator=ind.id)}
    todo = [p for p in weeks if p not in done]
    return (todo if which == "all" else todo[:1]), [
        Outcome(ind.id, p, "skipped") for p in weeks if p in done
    ]


def release_with(
    service: Any,
    settings: Settings,
    *,
    indicator: str | None = None,
    period: str | None = None,
    which: Which = "next",
    publish_now: bool = True,
    today: dt.date | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> RunSummary:
    """Release (and by default publish) indicator weeks: user-level continual release.

    Args:
        service: an open ``enclave.service.Service`` (``enclave.service.release_indicators``
            opens one).
        indicator: one indicator id, or None for all.
        period: one week (its Monday); else ``which`` picks ``"next"`` (the oldest
            complete week not yet released, per indicator) or ``"all"`` of them.
        publish_now: publish at once; otherwise keep them held for a steward.
    """
    inds = indicators_of(settings)
    if indicator is not None:
        inds = (find(inds, indicator),)
    pub = Published(published_path(settings.home))
    outcomes: list[Outcome] = []
    for ind in inds:
        todo, skipped = _todo(settings, pub, ind, period, which, today)
        outcomes.extend(skipped)
        for year in sorted({year_of_week(w) for w in todo}):
            weeks = [w for w in todo if year_of_week(w) == year]
            for outcome in _release_year(service, pub, ind, year, weeks, publish_now=publish_now):
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
    published = sum(o.result == "released" for o in outcomes) if publish_now else 0
    return _summarise(outcomes, published)


def publish(
    settings: Settings,
    *,
    indicator: str | None = None,
    period: str | None = None,
    steward: str = "steward",
) -> RunSummary:
    """Publish held releases (all, one indicator's, or one week's); audited."""
    from enclave.store import AuditRecord, open_store

    pub = Published(published_path(settings.home))
    held = [
        r
        for r in pub.releases(status="held", indicator=indicator)
        if period is None or r.period == period
    ]
    done = 0
    with open_store(settings) as store:
        for rec in held:
            if pub.publish(rec.indicator, rec.period, when=_now()):
                done += 1
                store.audit(
                    AuditRecord.now(
                        request_id=uuid.uuid4().hex,
                        actor=steward,
                        project=None,
                        action="publish_indicator",
                        verdict="published",
                        detail=f"{rec.indicator} {rec.period}",
                    )
                )
    return RunSummary(published=done, skipped=len(held) - done)
