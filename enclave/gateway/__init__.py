"""The query gateway (see ``pipeline`` for the stages and their order)."""

from enclave.gateway.pipeline import BACK, FRONT, Answer, answer, answer_request, dry_run, front
from enclave.gateway.release.text import INTERVAL_NOTE, describe_bounds
from enclave.gateway.values import GatewayContext, QueryRequest, Release, Requested

__all__ = [
    "BACK",
    "FRONT",
    "INTERVAL_NOTE",
    "Answer",
    "GatewayContext",
    "QueryRequest",
    "Release",
    "Requested",
    "answer",
    "answer_request",
    "describe_bounds",
    "dry_run",
    "front",
]
