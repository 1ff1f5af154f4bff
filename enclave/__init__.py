"""A privacy-preserving research enclave for national health-insurance claims."""

from enclave.errors import (
    BudgetExhausted,
    EnclaveError,
    InternalError,
    PolicyViolation,
    QueryRejected,
    UserError,
)
from enclave.settings import Settings

__all__ = [
    "BudgetExhausted",
    "Client",
    "EnclaveError",
    "InternalError",
    "PolicyViolation",
    "QueryRejected",
    "Settings",
    "StewardClient",
    "UserError",
]


def __getattr__(name: str) -> object:
    if name == "Client":
        from enclave.client import Client

        return Client
    if name == "StewardClient":
        from enclave.steward_client import StewardClient

        return StewardClient
    raise AttributeError(name)
