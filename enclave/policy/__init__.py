"""Steward-owned policies: datasets and projects.

The value types are those of ``_model``, the loaders those of ``_load`` and a project's
accounting model (pure ε-DP or ρ-zCDP, with OpenDP's conversions) that of ``_accounting``;
each module's ``__all__`` is what this package exports.
"""

from enclave.policy import _accounting, _load, _model
from enclave.policy._accounting import *  # noqa: F403
from enclave.policy._load import *  # noqa: F403
from enclave.policy._model import *  # noqa: F403

__all__ = [*_model.__all__, *_load.__all__, *_accounting.__all__]
