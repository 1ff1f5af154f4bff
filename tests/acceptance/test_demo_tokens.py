"""The demo's tokens expire (a demo left running does not hand out keys for ever)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from enclave.demo import DEMO_RESEARCHER, DEMO_STEWARD, DEMO_TOKEN_LIFETIME, run_demo
from enclave.settings import Settings
from enclave.store import open_store


def test_demo_tokens_expire(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    run_demo(settings, persons=300, indicators=False)
    store = open_store(settings)
    for user in (DEMO_RESEARCHER, DEMO_STEWARD):
        (token,) = store.accounts.tokens(user)
        expires = dt.datetime.fromisoformat(token["expires"])
        left = expires - dt.datetime.now(dt.UTC)
        assert dt.timedelta(0) < left <= DEMO_TOKEN_LIFETIME
