"""Shared fixtures: one small synthetic enclave built once per test session.

Tests that change state (budget, audit, store) copy it with ``fresh_home``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enclave.noise import forget_built_measurements
from enclave.settings import Settings

SMALL_PERSONS = 2_000


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ENCLAVE_HOME with a synthetic extract ingested (no accounts, no releases)."""
    from tests._data import ingested_home

    home = tmp_path_factory.mktemp("enclave-home")
    ingested_home(Settings(home=home), SMALL_PERSONS, seed=11)
    return home


@pytest.fixture
def fresh_home(built_home: Path, tmp_path: Path) -> Callable[[], Settings]:
    """A factory of private copies of the built enclave (warehouse + key, no store)."""

    def make() -> Settings:
        home = tmp_path / f"home{len(list(tmp_path.iterdir()))}"
        shutil.copytree(built_home, home, ignore=shutil.ignore_patterns("metadata.sqlite*"))
        return Settings(home=home)

    return make


@pytest.fixture(autouse=True)
def _forget_built_measurements() -> Iterator[None]:
    """After each test, the OpenDP measurements the gateway kept for reuse are dropped: a
    test that wrapped OpenDP's constructors leaves no wrapped measurement to the next."""
    yield
    forget_built_measurements()
