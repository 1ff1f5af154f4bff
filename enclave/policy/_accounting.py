"""A project's accounting model: pure ε-DP (the default) or ρ-zCDP, and its conversions.

``accounting = "pure"`` (every project today): pieces are pure ε-DP, ε and δ add up over
releases (basic composition). ``accounting = "zcdp"``: the noised totals get OpenDP's
discrete Gaussian, every release is ρ-zCDP and ρ adds up over releases (zCDP composes
exactly, Bun & Steinke 2016). The project's ``epsilon`` and ``delta`` stay its promise —
the (ε, δ)-DP guarantee for a person over the project's whole life — and are spent as:

* ``conversion_delta`` = ``delta`` × (1 − ``KEYS_DELTA_SHARE``): the ρ a zcdp project may
  spend is the largest ρ whose (ε, δ) at this δ, by OpenDP's zCDP → approximate-DP
  conversion (``make_zCDP_to_approxDP`` then ``make_fix_delta``), is at most ``epsilon``;
* ``keys_delta`` = ``delta`` × ``KEYS_DELTA_SHARE``: what noisy thresholds of private keys
  may spend. A threshold is (ε, δ)-DP; it is counted as δ-approximately (ε²/2)-zCDP, so its
  δ adds to the conversion's δ (approximate zCDP composes by adding ρ and δ), and the
  total stays within ``delta``.

Mixed pieces (the private choice of an "auto" rows bound, key selection, quantiles) stay
pure ε-DP mechanisms; under zcdp each is charged ``pure_rho(ε) = ε²/2`` (pure ε-DP implies
(ε²/2)-zCDP, Bun & Steinke 2016 Prop. 1.4; OpenDP's ``make_pureDP_to_zCDP`` map).

OpenDP is imported on first use (the policy layer is loaded by ingest too, which never
needs it); the conversions are cached.

>>> acc = Accounting("zcdp", 1e-6)
>>> acc.conversion_delta, acc.keys_delta
(5e-07, 5e-07)
>>> round(acc.epsilon(0.25), 3)
3.642
>>> acc.epsilon(acc.rho(10.0)) <= 10.0 < acc.epsilon(acc.rho(10.0) * 1.000001)
True
>>> Accounting().keys_delta, pure_rho(0.1)
(0.0, 0.005000000000000001)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from enclave.errors import InternalError

if TYPE_CHECKING:
    from enclave.policy._model import ProjectPolicy

__all__ = [
    "KEYS_DELTA_SHARE",
    "MODELS",
    "Accounting",
    "AccountingModel",
    "accounting_of",
    "epsilon_of_rho",
    "pure_rho",
    "rho_of_epsilon",
]

AccountingModel = Literal["pure", "zcdp"]
#: Every accounting model a project policy may name.
MODELS: tuple[AccountingModel, ...] = get_args(AccountingModel)
#: Share of a zcdp project's δ that noisy thresholds of private keys may spend.
KEYS_DELTA_SHARE = 0.5
#: Relative precision of ``rho_of_epsilon`` (it never returns a ρ whose ε is too large).
_RHO_TOLERANCE = 1e-12


def pure_rho(epsilon: float) -> float:
    """The ρ a pure ε-DP piece is charged under zcdp: ε²/2."""
    return epsilon * epsilon / 2.0


@functools.lru_cache(maxsize=64)
def _conversion(delta: float) -> Any:
    """OpenDP's zCDP → (ε, δ) conversion at ``delta``, as a measurement whose map at d_in
    ``d`` is the conversion of ρ = d²/2 (a Gaussian of scale 1)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    unit = dp.m.make_gaussian(
        dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), scale=1.0
    )
    return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(unit), delta)


@functools.lru_cache(maxsize=4096)
def epsilon_of_rho(rho: float, delta: float) -> float:
    """The ε of ρ-zCDP at ``delta`` by OpenDP's conversion (0 for ρ = 0; infinite where
    the conversion overflows, far past any budget)."""
    from opendp.mod import OpenDPException

    if not delta > 0:
        raise InternalError("a zCDP budget is shown as (ε, δ) only at δ > 0")
    if rho <= 0:
        return 0.0
    if not math.isfinite(rho):
        return math.inf
    try:
        eps, _ = _conversion(float(delta)).map(math.sqrt(2.0 * rho))
    except OpenDPException:
        return math.inf
    return float(eps)


@functools.lru_cache(maxsize=4096)
def rho_of_epsilon(epsilon: float, delta: float) -> float:
    """The largest ρ whose ε at ``delta`` (``epsilon_of_rho``) is at most ``epsilon``.

    The search is in √ρ, between the classic bound's ρ (ε = ρ + 2√(ρ ln 1/δ), never below
    OpenDP's tighter conversion) and one found too large, by the Illinois variant of
    regula falsi (a bracket that always holds; a few OpenDP maps instead of forty). The
    lower end of the bracket is returned, so its ε never exceeds ``epsilon``.
    """
    if epsilon <= 0:
        return 0.0
    log = math.log(1.0 / delta)
    lo = math.sqrt(log + epsilon) - math.sqrt(log)  # √ρ of the classic bound
    while epsilon_of_rho(lo * lo, delta) > epsilon:  # float rounding at the edge only
        lo /= 1.0 + 1e-9
    hi = lo * 1.5
    while epsilon_of_rho(hi * hi, delta) <= epsilon:
        lo, hi = hi, hi * 2.0
    f_lo = epsilon_of_rho(lo * lo, delta) - epsilon
    f_hi = epsilon_of_rho(hi * hi, delta) - epsilon
    side = 0
    for _ in range(200):
        if hi - lo <= _RHO_TOLERANCE * hi:
            break
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < mid < hi:
            mid = (lo + hi) / 2.0
        f_mid = epsilon_of_rho(mid * mid, delta) - epsilon
        if f_mid <= 0:
            lo, f_lo = mid, f_mid
            f_hi = f_hi / 2.0 if side == -1 else f_hi
            side = -1
        else:
            hi, f_hi = mid, f_mid
            f_lo = f_lo / 2.0 if side == 1 else f_lo
            side = 1
    return lo * lo


@dataclass(frozen=True)
class Accounting:
    """How a project composes its releases: ``pure`` ε-DP or ``zcdp`` at its δ."""

    model: AccountingModel = "pure"
    #: the project's δ (its promise); under zcdp split between conversion and keys
    delta: float = 0.0

    @property
    def zcdp(self) -> bool:
        return self.model == "zcdp"

    @property
    def conversion_delta(self) -> float:
        """The δ at which a zcdp project's ρ is shown (and budgeted) as ε; 0 for pure."""
        return self.delta * (1.0 - KEYS_DELTA_SHARE) if self.zcdp else 0.0

    @property
    def keys_delta(self) -> float:
        """The δ noisy thresholds of private keys may spend over the project's life."""
        return self.delta * KEYS_DELTA_SHARE if self.zcdp else self.delta

    def epsilon(self, rho: float) -> float:
        """The ε that ρ-zCDP implies at ``conversion_delta`` (OpenDP's conversion)."""
        return epsilon_of_rho(float(rho), self.conversion_delta)

    def rho(self, epsilon: float) -> float:
        """The largest ρ whose ε at ``conversion_delta`` is at most ``epsilon``."""
        return rho_of_epsilon(float(epsilon), self.conversion_delta)


def accounting_of(policy: ProjectPolicy) -> Accounting:
    """The accounting model a project policy chose (``pure`` unless it says ``zcdp``)."""
    if policy.accounting == "zcdp":
        return Accounting("zcdp", policy.delta)
    return Accounting("pure", policy.delta)
