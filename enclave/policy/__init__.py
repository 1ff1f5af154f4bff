"""Steward-owned policies: datasets and projects.

The value types are those of ``_model`` and the loaders those of ``_load``; each module's
``__all__`` is what this package exports.
"""

from enclave.policy import _load, _model
from enclave.policy._load import *  # noqa: F403
from enclave.policy._model import *  # noqa: F403

__all__ = [*_model.__all__, *_load.__all__]
