"""Load and validate steward TOML policies into frozen value types.

Errors name the file and the setting that is wrong and say what is expected.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from enclave.errors import PolicyError
from enclave.policy._accounting import MODELS
from enclave.policy._model import (
    ColumnPolicy,
    ContributionPolicy,
    DatasetPolicy,
    KeySet,
    Limits,
    PrivacyCeiling,
    ProjectPolicy,
    PublicKeyExpr,
    TablePolicy,
)

__all__ = ["load_dataset_policy", "load_project_policies", "load_project_policy"]

_ROLES = {"identifier", "key", "numeric", "date", "code", "join"}
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_STATUSES = {"active", "suspended"}


def _check_names_and_limits(
    where: str, tables: list[TablePolicy], exprs: tuple[PublicKeyExpr, ...], limits: Limits
) -> None:
    """Names the gateway can match (it lower-cases SQL names), sane limits, known tables."""
    for t in tables:
        for name in (t.name, *(c.name for c in t.columns)):
            if not _NAME.fullmatch(name):
                raise PolicyError(
                    f"{where}: name {name!r} must be lower case letters, digits and '_' "
                    "(SQL names are matched case-insensitively)."
                )
        if t.person_column is not None:
            col = t.column(t.person_column)
            if col is not None and col.role != "identifier":
                raise PolicyError(
                    f'{where}: person column {t.name}.{col.name} must have role "identifier".'
                )
    known = {t.name for t in tables}
    for e in exprs:
        if e.table not in known:
            raise PolicyError(f"{where}: public key expression names unknown table {e.table!r}.")
    for key, value in vars(limits).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise PolicyError(f"{where}: [limits] {key} must be a positive integer.")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PolicyError(f"Policy file {path} does not exist; create it or set ENCLAVE_POLICIES.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"Policy file {path.name} is not valid TOML ({exc}); fix it.") from None


def _expand_key_set(name: str, spec: Any, where: str) -> KeySet:
    if isinstance(spec, list):
        if not spec or len(set(spec)) != len(spec):
            raise PolicyError(
                f"{where}: key set {name!r} must be a non-empty list of distinct values."
            )
        return KeySet(name, tuple(spec))
    if isinstance(spec, dict) and {"start", "end"} <= spec.keys():
        start = dt.date.fromisoformat(str(spec["start"]))
        end = dt.date.fromisoformat(str(spec["end"]))
        if end < start:
            raise PolicyError(f"{where}: key set {name!r} ends before it starts.")
        values: list[str] = []
        if "step_days" in spec:
            step = dt.timedelta(days=int(spec["step_days"]))
            d = start
            while d <= end:
                values.append(d.isoformat())
                d += step
        elif "step_months" in spec:
            y, m = start.year, start.month
            while dt.date(y, m, 1) <= end:
                values.append(dt.date(y, m, 1).isoformat())
                m += int(spec["step_months"])
                y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
        else:
            raise PolicyError(f"{where}: key set {name!r} needs step_days or step_months.")
        return KeySet(name, tuple(values))
    raise PolicyError(f"{where}: key set {name!r} must be a list or a {{start, end, step}} range.")


def _bound(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (dt.date, str)):
        return float(dt.date.fromisoformat(str(value)).toordinal())
    return float(value)


def _column(table: str, name: str, spec: dict[str, Any], where: str) -> ColumnPolicy:
    role = spec.get("role")
    if role not in _ROLES:
        raise PolicyError(
            f"{where}: column {table}.{name} has role {role!r}; use one of {sorted(_ROLES)}."
        )
    lower, upper = _bound(spec.get("lower")), _bound(spec.get("upper"))
    if role == "numeric" and (lower is None or upper is None or lower > upper):
        raise PolicyError(f"{where}: numeric column {table}.{name} needs lower <= upper bounds.")
    integer = spec.get("integer", False)
    whole = role == "numeric" and all(float(b or 0).is_integer() for b in (lower, upper))
    if integer is not False and not (integer is True and whole):
        raise PolicyError(
            f"{where}: integer = true is for numeric columns with whole-number bounds "
            f"({table}.{name})."
        )
    codes = spec.get("public_codes")
    if codes is not None and (role != "code" or not isinstance(codes, str)):
        raise PolicyError(
            f"{where}: public_codes names a key set, on code columns only ({table}.{name})."
        )
    clamp = spec.get("clamp", "fixed")
    if clamp not in ("fixed", "auto") or (clamp == "auto" and (role != "numeric" or integer)):
        raise PolicyError(
            f'{where}: clamp = "auto" is for numeric columns that are not integer '
            f"({table}.{name}); leave it out for a fixed clamp at upper."
        )
    if clamp == "auto" and float(upper or 0.0) <= max(0.0, float(lower or 0.0)):
        raise PolicyError(f'{where}: clamp = "auto" needs upper > max(lower, 0) ({table}.{name}).')
    return ColumnPolicy(
        name, role, lower, upper, spec.get("key_set"), integer, codes, clamp == "auto"
    )


def _ceiling_value(where: str, key: str, value: Any, *, delta: bool) -> float | None:
    if value is None:
        return None
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    number = float(value) if ok_type else math.nan
    ok = math.isfinite(number) and (0 <= number < 1 if delta else number > 0)
    if not ok:
        what = "a number with 0 <= value < 1" if delta else "a number above 0"
        raise PolicyError(f"{where}: [privacy] {key} must be {what} (or left out: no ceiling).")
    return number


def _privacy(where: str, raw: Any) -> PrivacyCeiling:
    """The optional ``[privacy]`` ceiling on one person's total loss over all projects.

    >>> _privacy("d.toml", {"max_total_epsilon": 400, "max_total_delta": 1e-5})
    PrivacyCeiling(max_total_epsilon=400.0, max_total_delta=1e-05)
    >>> _privacy("d.toml", {})
    PrivacyCeiling(max_total_epsilon=None, max_total_delta=None)
    """
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: [privacy] must be a table of settings.")
    unknown = set(raw) - {"max_total_epsilon", "max_total_delta"}
    if unknown:
        raise PolicyError(
            f"{where}: unknown setting in [privacy] ({', '.join(sorted(unknown))}); "
            "use max_total_epsilon and max_total_delta."
        )
    return PrivacyCeiling(
        _ceiling_value(where, "max_total_epsilon", raw.get("max_total_epsilon"), delta=False),
        _ceiling_value(where, "max_total_delta", raw.get("max_total_delta"), delta=True),
    )


def load_dataset_policy(path: Path) -> DatasetPolicy:
    raw = _read(path)
    where = path.name
    tables = []
    for tname, tspec in raw.get("tables", {}).items():
        protected = bool(tspec.get("protected", True))
        person = tspec.get("person_column")
        cols = tuple(_column(tname, c, s, where) for c, s in tspec.get("columns", {}).items())
        if protected and (person is None or person not in {c.name for c in cols}):
            raise PolicyError(f"{where}: protected table {tname} must name its person_column.")
        tables.append(TablePolicy(tname, protected, person, cols))
    if not tables:
        raise PolicyError(f"{where}: no [tables.*] sections; declare at least one table.")
    key_sets = tuple(_expand_key_set(n, s, where) for n, s in raw.get("key_sets", {}).items())
    names = {k.name for k in key_sets}
    for t in tables:
        for c in t.columns:
            for named in (c.key_set, c.public_codes):
                if named is not None and named not in names:
                    raise PolicyError(
                        f"{where}: {t.name}.{c.name} names unknown key set {named!r}."
                    )
    exprs = tuple(
        PublicKeyExpr(e["table"], e["expression"], e["key_set"])
        for e in raw.get("public_key_exprs", [])
    )
    for e in exprs:
        if e.key_set not in names:
            raise PolicyError(
                f"{where}: public key expression names unknown key set {e.key_set!r}."
            )
    try:
        contribution = ContributionPolicy(**raw.get("contribution", {}))
        limits = Limits(**raw.get("limits", {}))
    except TypeError as exc:
        raise PolicyError(
            f"{where}: unknown setting in [contribution] or [limits] ({exc})."
        ) from None
    rpp = contribution.rows_per_person
    if rpp != "auto" and not (isinstance(rpp, int) and rpp >= 1):
        raise PolicyError(f'{where}: rows_per_person must be a positive integer or "auto".')
    if not 0 < contribution.auto_epsilon_share < 1:
        raise PolicyError(f"{where}: auto_epsilon_share must be between 0 and 1.")
    name = raw.get("dataset", {}).get("name", path.stem)
    _check_names_and_limits(where, tables, exprs, limits)
    privacy = _privacy(where, raw.get("privacy", {}))
    return DatasetPolicy(name, tuple(tables), key_sets, exprs, contribution, limits, privacy)


def load_project_policy(path: Path, dataset: DatasetPolicy | None = None) -> ProjectPolicy:
    raw = _read(path).get("project")
    where = path.name
    if not isinstance(raw, dict) or "id" not in raw:
        raise PolicyError(f"{where}: needs a [project] section with an id.")
    tables = tuple((t, tuple(cols)) for t, cols in raw.get("tables", {}).items())
    if dataset is not None:
        for t, cols in tables:
            tp = dataset.table(t)
            if tp is None:
                raise PolicyError(f"{where}: table {t!r} is not in the dataset policy.")
            for c in cols:
                if c != "*" and tp.column(c) is None:
                    raise PolicyError(f"{where}: column {t}.{c} is not in the dataset policy.")
    eps, delta = float(raw.get("epsilon", 0)), float(raw.get("delta", 0.0))
    cap = float(raw.get("max_epsilon_per_query", min(eps, 1.0)))
    if eps <= 0 or not 0 <= delta < 1 or not 0 < cap <= eps:
        raise PolicyError(
            f"{where}: need epsilon > 0, 0 <= delta < 1 and 0 < max_epsilon_per_query <= epsilon."
        )
    if raw.get("status", "active") not in _STATUSES:
        raise PolicyError(f"{where}: status must be one of {sorted(_STATUSES)}.")
    accounting = raw.get("accounting", "pure")
    if accounting not in MODELS or (accounting == "zcdp" and delta <= 0):
        raise PolicyError(
            f'{where}: accounting must be "pure" or "zcdp" (zcdp needs delta > 0: its budget '
            "is stated as (epsilon, delta))."
        )
    members = raw.get("members", ())
    if not isinstance(members, list | tuple) or not all(isinstance(m, str) for m in members):
        raise PolicyError(f"{where}: members must be a list of user names.")
    member_eps = raw.get("member_epsilon")
    review = raw.get("review_epsilon")
    return ProjectPolicy(
        id=str(raw["id"]),
        title=str(raw.get("title", raw["id"])),
        members=tuple(raw.get("members", ())),
        tables=tables,
        epsilon=eps,
        delta=delta,
        max_epsilon_per_query=cap,
        member_epsilon=None if member_eps is None else float(member_eps),
        review_epsilon=None if review is None else float(review),
        status=raw.get("status", "active"),
        accounting=accounting,
    )


def load_project_policies(
    folder: Path, dataset: DatasetPolicy | None = None
) -> dict[str, ProjectPolicy]:
    projects: dict[str, ProjectPolicy] = {}
    for path in sorted(folder.glob("*.toml")):
        p = load_project_policy(path, dataset)
        if p.id in projects:
            raise PolicyError(f"{path.name}: project id {p.id!r} is defined twice.")
        projects[p.id] = p
    return projects
