"""OpenDP wrappers: every random number the enclave releases comes from here.

``make_*`` builds an OpenDP measurement; ``release_*`` runs one; ``*_accuracy`` /
``*_scale`` convert between noise scale and a 95% half-width with OpenDP's helpers;
``choose_rows`` picks an "auto" rows bound and ``pick_clamp`` an "auto" value clamp, each by
least expected error from a noisy histogram.
No ``random`` and no numpy noise, and no float noise: every noised total is an exact
integer and gets OpenDP's exact discrete Laplace sampler — or, for projects accounted in
ρ-zCDP, its exact discrete Gaussian (``noise_totals`` is the one choice between them).
"""

from enclave.noise import _mechanisms, _quantile
from enclave.noise._accuracy import (
    ALPHA,
    Z95,
    discrete_laplace_std,
    half_width,
    laplace_std,
    scale_for_half_width,
)
from enclave.noise._bounds import RowsChoice, choose_rows, row_candidates, rows_kept
from enclave.noise._clamps import (
    ClampChoice,
    ValueHistogram,
    measure_values,
    pick_clamp,
)
from enclave.noise._gaussian import (
    RhoRecord,
    discrete_gaussian_std,
    gaussian_half_width,
    gaussian_int,
    gaussian_scale_for_half_width,
)
from enclave.noise._mechanisms import (
    INT_CAP,
    Record,
    laplace_int,
    threshold_counts,
    threshold_for_delta,
)
from enclave.noise._quantile import (
    private_quantile,
    quantile_candidates,
    quantile_scale,
    rank_error,
)
from enclave.noise._totals import TotalsNoise, noise_totals, share_for_half_width, totals_noise


def forget_built_measurements() -> None:
    """Drop every OpenDP measurement built once and kept for reuse (and the scales fitted
    with them): the next release builds them again, through whatever constructors OpenDP
    then has (a test's recording wrappers)."""
    _mechanisms.forget_built()
    _quantile.forget_built()


__all__ = [
    "ALPHA",
    "INT_CAP",
    "Z95",
    "ClampChoice",
    "Record",
    "RhoRecord",
    "RowsChoice",
    "TotalsNoise",
    "ValueHistogram",
    "choose_rows",
    "discrete_gaussian_std",
    "discrete_laplace_std",
    "forget_built_measurements",
    "gaussian_half_width",
    "gaussian_int",
    "gaussian_scale_for_half_width",
    "half_width",
    "laplace_int",
    "laplace_std",
    "measure_values",
    "noise_totals",
    "pick_clamp",
    "private_quantile",
    "quantile_candidates",
    "quantile_scale",
    "rank_error",
    "row_candidates",
    "rows_kept",
    "scale_for_half_width",
    "share_for_half_width",
    "threshold_counts",
    "threshold_for_delta",
    "totals_noise",
]
