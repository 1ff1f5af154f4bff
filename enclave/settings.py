"""One frozen ``Settings`` built once at the edge (CLI, API, tests) and passed in.

Nothing else in the package reads environment variables.

>>> s = Settings.from_environ({"ENCLAVE_HOME": "/tmp/x"})
>>> str(s.warehouse_path)
'/tmp/x/warehouse.duckdb'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPO_POLICIES", "Settings"]

#: The example policies shipped with the project (used when ENCLAVE_POLICIES is unset).
REPO_POLICIES = Path(__file__).resolve().parent.parent / "policies"


class _InHome:
    """A path inside the enclave home: ``settings.<attribute>`` is ``settings.home / name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, settings: Settings, owner: object = None) -> Path:
        return settings.home / self.name


@dataclass(frozen=True)
class Settings:
    """Where an enclave keeps its state and how its engine is limited."""

    home: Path
    policies_dir: Path = REPO_POLICIES
    engine: str = "duckdb"
    memory_limit: str = "2GB"
    query_timeout_s: float = 60.0
    threads: int = 2
    master_key_hex: str | None = field(default=None, repr=False)
    spark_master: str = "local[2]"
    store_url: str | None = None
    #: DuckDB memory for an ingest's staging database; None: max(memory_limit, 25% of RAM).
    ingest_memory_limit: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("ENCLAVE_HOME", ".enclave")).expanduser()
        return cls(
            home=home.absolute(),
            policies_dir=Path(env.get("ENCLAVE_POLICIES", str(REPO_POLICIES))).absolute(),
            engine=env.get("ENCLAVE_ENGINE", "duckdb"),
            memory_limit=env.get("ENCLAVE_MEMORY_LIMIT", "2GB"),
            query_timeout_s=float(env.get("ENCLAVE_QUERY_TIMEOUT", "60")),
            threads=int(env.get("ENCLAVE_THREADS", "2")),
            master_key_hex=env.get("ENCLAVE_MASTER_KEY") or None,
            spark_master=env.get("ENCLAVE_SPARK_MASTER", "local[2]"),
            store_url=env.get("ENCLAVE_STORE_URL") or None,
            ingest_memory_limit=env.get("ENCLAVE_INGEST_MEMORY_LIMIT") or None,
        )

    warehouse_path = _InHome("warehouse.duckdb")
    metadata_path = _InHome("metadata.sqlite")
    key_path = _InHome("master.key")
    quarantine_dir = _InHome("quarantine")
    parquet_dir = _InHome("parquet")

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.home

    @property
    def home_exists(self) -> bool:
        """Whether ``home`` holds an enclave (a metadata store, warehouse or key file)."""
        if not self.home.is_dir():
            return False
        marks = (self.metadata_path, self.warehouse_path, self.key_path)
        return bool(self.store_url) or any(m.exists() for m in marks)

    def require_home(self) -> Settings:
        """These settings, or a ``UserError`` saying how to create the missing enclave."""
        if not self.home_exists:
            from enclave.errors import UserError

            state = "is empty" if self.home.is_dir() else "does not exist"
            raise UserError(
                f"ENCLAVE_HOME {self.home} {state}: there is no enclave there. Create one with "
                "`enclave init` (or `enclave demo`), or set ENCLAVE_HOME to an existing one. "
                "Researchers: use the API with --url and your token."
            )
        return self
