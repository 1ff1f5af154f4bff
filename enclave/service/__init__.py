"""The service layer: what the CLI, the HTTP API and the dashboards call.

``Service`` owns the metadata store, the merged project policies and a lazily opened
engine, and checks roles before anything reaches the gateway. Pages and endpoints never
open the warehouse themselves. ``Principal`` is who a request comes from.

>>> from enclave.service import Service
>>> Service.__name__
'Service'
"""

from enclave.service._access import require_steward
from enclave.service._context import open_context, open_engine
from enclave.service._core import Service
from enclave.service._indicators import backfill_indicators, release_indicators
from enclave.service._ingest import load_extract
from enclave.store import Principal

__all__ = [
    "Principal",
    "Service",
    "backfill_indicators",
    "load_extract",
    "open_context",
    "open_engine",
    "release_indicators",
    "require_steward",
]
