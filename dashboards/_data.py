"""The one layer the dashboard pages call: thin functions over the service layer.

Pages never open the warehouse, hold no DuckDB connection and write no SQL of their own:
researcher SQL goes to ``Service.query``; steward views read the metadata store through
the service (after checking the steward role here); the public monitor reads published
indicator releases only. Every function returns plain data (dicts, lists, polars frames).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

from enclave.errors import Forbidden, Unauthorized
from enclave.settings import Settings

if TYPE_CHECKING:
    from enclave.service import Principal

__all__ = [
    "as_csv",
    "as_parquet",
    "average_widths",
    "budget",
    "dry_run",
    "indicator_titles",
    "interval_line",
    "monitor_rows",
    "open_service",
    "principal_for",
    "release_frame",
    "researcher_projects",
    "run_query",
    "schema",
    "width_headline",
]


def open_service(settings: Settings) -> Any:
    """An in-process ``enclave.service.Service`` for ``settings`` (opened lazily)."""
    from enclave.service import Service

    return Service.open(settings)


def principal_for(svc: Any, token: str, role: str | None = None) -> Principal:
    """The principal behind ``token``; Unauthorized / Forbidden with a clear message."""
    if not token or not token.strip():
        raise Unauthorized("Enter your API token to sign in (your steward issues it).")
    principal = svc.authenticate(token.strip())
    if role is not None and principal.role != role:
        raise Forbidden(f"This console is for {role}s; your token belongs to a {principal.role}.")
    return principal


# -- researcher ----------------------------------------------------------------------
def researcher_projects(svc: Any, principal: Principal) -> list[str]:
    """Projects the researcher is a member of."""
    return list(svc.projects_of(principal))


def schema(svc: Any, project: str | None = None) -> dict[str, Any]:
    """Tables, columns, roles, domains and public group keys — from policy, never from data."""
    from enclave.service._schema import schema_report

    return schema_report(svc.dataset, svc.project_policy(project) if project else None)


def run_query(
    svc: Any,
    principal: Principal,
    sql: str,
    project: str,
    *,
    epsilon: float | None = None,
    half_width: float | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """A differentially private release (charged unless it is the cached one), or with
    ``dry_run`` its ε and expected 95% half-widths (spends nothing). ``epsilon`` wins over
    ``half_width`` when both are given."""
    half_width = None if epsilon is not None else half_width
    out = svc.query(
        principal, sql, project, epsilon=epsilon, half_width=half_width, dry_run=dry_run
    )
    return dict(out)


def dry_run(svc: Any, principal: Principal, sql: str, project: str, **ask: Any) -> dict[str, Any]:
    """Dry run: ε and expected 95% half-widths; spends nothing (``run_query``'s arguments)."""
    return run_query(svc, principal, sql, project, dry_run=True, **ask)


def budget(svc: Any, principal: Principal, project: str) -> dict[str, Any]:
    return dict(svc.budget(principal, project))


def release_frame(release: dict[str, Any]) -> pl.DataFrame:
    """A release's rows as a frame (estimate, ``_se``, ``_ci_low``, ``_ci_high`` columns)."""
    cols = [str(c) for c in release.get("columns", [])]
    rows = release.get("rows", [])
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    return pl.DataFrame(data, strict=False, infer_schema_length=None)


def average_widths(estimate: dict[str, Any]) -> list[dict[str, Any]]:
    """Each AVG's expected 95% half-width in the average's own units, by group size, from a
    dry run's ``average_half_widths``: at the rows bound the run will use (for ``auto``,
    the largest it may choose), with the fewest rows a group needs to be released.

    >>> est = {"rows_per_person": 1, "average_half_widths": {"m": {"rows": [100, 1000],
    ...     "by_rows_bound": {"1": [50.0, 5.0]}, "released_from_rows": {"1": 4}}}}
    >>> average_widths(est)[1]
    {'average': 'm', 'group rows': 1000, '95% half-width': 5.0, 'released from rows': 4}
    """
    out: list[dict[str, Any]] = []
    for alias, preview in (estimate.get("average_half_widths") or {}).items():
        by_bound = preview.get("by_rows_bound") or {}
        if not by_bound:
            continue
        bound = str(estimate.get("rows_per_person"))
        if bound not in by_bound:
            bound = max(by_bound, key=float)
        released = (preview.get("released_from_rows") or {}).get(bound)
        for rows, width in zip(preview.get("rows") or [], by_bound[bound], strict=False):
            out.append(
                {
                    "average": alias,
                    "group rows": rows,
                    "95% half-width": width,
                    "released from rows": released,
                }
            )
    return out


def width_headline(estimate: dict[str, Any]) -> str:
    """The half-widths to show in one line: the noised pieces', else each average's for a
    group of 1,000 rows (in the average's units).

    >>> width_headline({"half_widths": {}, "rows_per_person": 1, "average_half_widths": {
    ...     "m": {"rows": [100, 1000], "by_rows_bound": {"1": [50.0, 5.0]}}}})
    'm ±5.0 (1,000 rows)'
    """
    widths = estimate.get("half_widths") or {}
    if widths:
        return ", ".join(f"{v:,.1f}" for v in widths.values())
    rows = [r for r in average_widths(estimate) if r["group rows"] == 1000]
    return ", ".join(f"{r['average']} ±{r['95% half-width']:,.1f} (1,000 rows)" for r in rows)


def interval_line(release: dict[str, Any]) -> str:
    """What the intervals cover, and the bounds the release applied."""
    from enclave.gateway.release.text import INTERVAL_NOTE, describe_bounds

    note = release.get("interval_note") or INTERVAL_NOTE
    return f"{note} {describe_bounds(release.get('bounds') or {})}"


def as_csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode("utf-8")


def as_parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


# -- public --------------------------------------------------------------------------
def monitor_rows(settings: Settings) -> list[dict[str, Any]]:
    """Published indicator values with EARS C1/C2/C3 and alert levels (public data only)."""
    from enclave.indicators import Published, published_path, series_rows, with_alerts

    path = published_path(settings.home)
    if not path.is_file():
        return []
    return with_alerts(series_rows(Published(path).releases(status="published")))


def indicator_titles(settings: Settings) -> dict[str, str]:
    from enclave.indicators import indicators_of

    return {i.id: i.title for i in indicators_of(settings)}


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def tail(items: Iterable[Any], n: int) -> list[Any]:
    return list(items)[-n:]
