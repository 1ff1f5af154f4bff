"""The metadata-store tests' fixtures: a settings object over a fresh home, and a store
opened on it (a test module may define its own ``store``, e.g. with a fake clock)."""

from __future__ import annotations

import pytest

from enclave.settings import Settings
from enclave.store import open_store


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home")


@pytest.fixture
def store(settings):
    with open_store(settings) as s:
        yield s
