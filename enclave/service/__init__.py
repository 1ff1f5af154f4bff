"""The service layer: what the CLI, the HTTP API and the dashboards call.

``Service`` owns the metadata store, the merged project policies and a lazily opened
engine, and checks roles before anything reaches the gateway. Pages and endpoints never
open the warehouse themselves.

>>> from enclave.service import Service
>>> Service.__name__
'Service'
"""

from enclave.service._context import open_context, open_engine
from enclave.service._core import Service
from enclave.service._indicators import backfill_indicators, release_indicators
from enclave.service._ingest import load_extract

__all__ = [
    "Service",
    "backfill_indicators",
    "load_extract",
    "open_context",
    "open_engine",
    "release_indicators",
]
