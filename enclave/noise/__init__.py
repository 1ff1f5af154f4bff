"""OpenDP wrappers: every random number the enclave releases comes from here.

``make_*`` builds an OpenDP measurement; ``release_*`` runs one; ``*_accuracy`` /
``*_scale`` convert between noise scale and a 95% half-width with OpenDP's helpers.
No ``random`` and no numpy noise, and no float noise: every Laplace-noised total is an
exact integer and gets OpenDP's exact discrete Laplace sampler.
"""

from enclave.noise._accuracy import (
    ALPHA,
    Z95,
    discrete_laplace_std,
    half_width,
    laplace_std,
    scale_for_half_width,
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

__all__ = [
    "ALPHA",
    "INT_CAP",
    "Z95",
    "Record",
    "discrete_laplace_std",
    "half_width",
    "laplace_int",
    "laplace_std",
    "private_quantile",
    "quantile_candidates",
    "quantile_scale",
    "rank_error",
    "scale_for_half_width",
    "threshold_counts",
    "threshold_for_delta",
]
