"""The query gateway (see ``pipeline`` for the stages and their order)."""

from enclave.gateway.pipeline import BACK, FRONT, answer, dry_run
from enclave.gateway.release.text import INTERVAL_NOTE, describe_bounds
from enclave.gateway.values import GatewayContext, QueryRequest, QueryState, Release

__all__ = [
    "BACK",
    "FRONT",
    "INTERVAL_NOTE",
    "GatewayContext",
    "QueryRequest",
    "QueryState",
    "Release",
    "answer",
    "describe_bounds",
    "dry_run",
]
