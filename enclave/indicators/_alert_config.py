"""The alerting settings, read from ``[alerts]`` in ``policies/indicators.toml``.

``detector`` names the detector whose verdict is a week's level (the others are computed
and listed beside it); ``min_excess`` is the smallest excess over the expected value
(persons) that may raise a warning or an alert, for every detector. Each detector has its
own table of parameters; anything left out keeps the default below. ``provisional_weeks``
``min_expected`` floors the expected count the thresholds are computed from (persons), so
a baseline of zeros does not make a little noise look like an outbreak. ``provisional_weeks``
is how many complete weeks before the data's last date are still provisional (claims
that arrive late); the week that holds the last date, and later ones, always are.

>>> cfg = parse_alerts({"detector": "farrington", "farrington": {"alpha_alert": 0.002}})
>>> cfg.detector, cfg.farrington.alpha_alert, cfg.cusum.reference
('farrington', 0.002, 1.5)
>>> parse_alerts({"detector": "magic"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
enclave.errors.PolicyError: alerts.detector must be one of cusum, ears, farrington...
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.errors import PolicyError
from enclave.indicators._regression import Design

__all__ = [
    "DETECTORS",
    "AlertConfig",
    "CusumConfig",
    "EarsConfig",
    "FarringtonConfig",
    "load_alerts",
    "parse_alerts",
]

DETECTORS = ("cusum", "ears", "farrington")


@dataclass(frozen=True)
class FarringtonConfig:
    """The regression baseline (``Design``) and the chance of a week alone passing its
    thresholds with no outbreak: ``alpha_alert`` (red) and ``alpha_warning`` (yellow)."""

    design: Design = field(default_factory=Design)
    alpha_alert: float = 0.002
    alpha_warning: float = 0.02


@dataclass(frozen=True)
class CusumConfig:
    """A CUSUM of the weekly z-scores against the regression baseline (fitted without the
    ``exclude_recent`` last weeks): ``S = min(cap, max(0, S + z − reference))``, an alert at
    ``S ≥ alert``, a warning at ``S ≥ warning``. Its baseline keeps the last weeks at the
    same time of year (``recent_in_window``), so a lasting change of level ends a run
    instead of accumulating for ever."""

    reference: float = 1.5
    alert: float = 3.0
    warning: float = 2.0
    cap: float = 3.5
    exclude_recent: int = 0
    recent_in_window: bool = True


@dataclass(frozen=True)
class EarsConfig:
    """EARS C1–C3 (``_ears``): sigma floored at ``min_sigma``."""

    min_sigma: float = 1.0


@dataclass(frozen=True)
class AlertConfig:
    detector: str = "farrington"
    min_excess: float = 2.0
    min_expected: float = 2.0
    provisional_weeks: int = 0
    farrington: FarringtonConfig = field(default_factory=FarringtonConfig)
    cusum: CusumConfig = field(default_factory=CusumConfig)
    ears: EarsConfig = field(default_factory=EarsConfig)


def _fields(where: str, cls: type, spec: dict[str, Any]) -> dict[str, Any]:
    known = {f.name: f for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for name, value in spec.items():
        if name not in known:
            raise PolicyError(f"{where} has no setting {name!r}; allowed: {sorted(known)}.")
        default = getattr(cls(), name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise PolicyError(f"{where}.{name} must be true or false.")
            out[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError(f"{where}.{name} must be a number of 0 or more.")
        out[name] = int(value) if isinstance(default, int) else float(value)
    return out


def _farrington(spec: dict[str, Any]) -> FarringtonConfig:
    where = "alerts.farrington"
    design_names = {f.name for f in dataclasses.fields(Design)}
    design = _fields(where, Design, {k: v for k, v in spec.items() if k in design_names})
    rest = _fields(
        where,
        FarringtonConfig,
        {k: v for k, v in spec.items() if k not in design_names and k != "design"},
    )
    for name in ("alpha_alert", "alpha_warning"):
        if name in rest and not 0 < rest[name] < 0.5:
            raise PolicyError(f"{where}.{name} must be between 0 and 0.5.")
    if design.get("periods", 10) < 1 or design.get("half_window", 3) > 20:
        raise PolicyError(f"{where}: periods must be 1 or more and half_window at most 20.")
    return FarringtonConfig(design=Design(**design), **rest)


def parse_alerts(spec: dict[str, Any]) -> AlertConfig:
    """The ``[alerts]`` table as settings (defaults for what it leaves out)."""
    spec = dict(spec)
    detector = str(spec.pop("detector", "farrington"))
    if detector not in DETECTORS:
        raise PolicyError(f"alerts.detector must be one of {', '.join(DETECTORS)}.")
    tables = {k: dict(spec.pop(k, {})) for k in ("farrington", "cusum", "ears")}
    top = _fields("alerts", AlertConfig, {k: v for k, v in spec.items()})
    return AlertConfig(
        detector=detector,
        farrington=_farrington(tables["farrington"]),
        cusum=CusumConfig(**_fields("alerts.cusum", CusumConfig, tables["cusum"])),
        ears=EarsConfig(**_fields("alerts.ears", EarsConfig, tables["ears"])),
        **top,
    )


def load_alerts(path: Path) -> AlertConfig:
    """``[alerts]`` of an indicators file (the defaults when the file or table is absent)."""
    if not path.is_file():
        return AlertConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name} is not valid TOML ({exc}); fix the file.") from None
    return parse_alerts(dict(data.get("alerts", {})))
