"""Build a ``GatewayContext`` from ``Settings``: policies, a concrete engine and the store.

This is where concrete engines are chosen, so it sits above the gateway: the gateway itself
depends only on the ``Engine`` protocol and the store it is given.
"""

from __future__ import annotations

from enclave.engines.base import Engine
from enclave.errors import UserError
from enclave.gateway.values import GatewayContext
from enclave.policy import load_dataset_policy, load_project_policies
from enclave.settings import Settings

__all__ = ["open_context", "open_engine"]


def open_engine(settings: Settings) -> Engine:
    """The engine named by ``settings.engine`` (DuckDB embedded by default)."""
    if settings.engine == "spark":
        from enclave.engines.spark import SparkEngine

        return SparkEngine(settings)
    if settings.engine != "duckdb":
        raise UserError(f"Unknown engine {settings.engine!r}; use 'duckdb' or 'spark'.")
    if not settings.warehouse_path.is_file():
        raise UserError(
            "There is no warehouse yet under ENCLAVE_HOME; run `enclave ingest` (or "
            "`enclave demo --no-serve`) first."
        )
    from enclave.engines.duckdb import DuckDBEngine

    return DuckDBEngine(settings.warehouse_path, settings)


def open_context(settings: Settings, engine: Engine | None = None) -> GatewayContext:
    """Load the steward's policies and open the engine and the metadata store."""
    from enclave.store import open_store

    dataset = load_dataset_policy(settings.policies_dir / "dataset.toml")
    projects = load_project_policies(settings.policies_dir / "projects", dataset)
    return GatewayContext(
        settings=settings,
        dataset=dataset,
        projects=projects,
        engine=engine if engine is not None else open_engine(settings),
        store=open_store(settings),
    )
