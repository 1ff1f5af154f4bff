"""Users, tokens (hash-only, expiry, revocation), project lifecycle and memberships."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from enclave.errors import Conflict, NotFound, Unauthorized, UserError
from enclave.store import open_store


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(settings, clock):
    with open_store(settings, clock=clock) as s:
        s.accounts.add_user("st", "steward")
        s.accounts.add_user("ana", "researcher")
        yield s


def _db_bytes(settings) -> bytes:
    con = sqlite3.connect(settings.metadata_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return b"".join(
        p.read_bytes() for p in settings.home.iterdir() if p.name.startswith("metadata.sqlite")
    )


def test_token_authenticates_and_is_stored_only_as_hash(store, settings):
    token = store.accounts.issue_token("ana", dt.timedelta(days=1), actor="st")
    principal = store.accounts.authenticate(token)
    assert (principal.user, principal.role) == ("ana", "researcher")
    assert token.startswith("enc_" + principal.token_id + ".")
    assert store.accounts.authenticate(token) == principal  # second time, from the verified memory
    stored = _db_bytes(settings)
    secret = token.split(".", 1)[1]
    assert token.encode() not in stored
    assert secret.encode() not in stored
    assert b"$argon2id$" in stored
    [meta] = store.accounts.tokens("ana")
    assert meta["id"] == principal.token_id and "hash" not in meta


def test_fresh_store_instance_verifies_with_argon2(store, settings, clock):
    token = store.accounts.issue_token("ana")
    with open_store(settings, clock=clock) as other:  # another worker: no memory of it
        assert other.accounts.authenticate(token).user == "ana"


def test_expiry(store, clock):
    token = store.accounts.issue_token("ana", dt.timedelta(hours=1))
    clock.now += dt.timedelta(minutes=59)
    assert store.accounts.authenticate(token).user == "ana"
    clock.now += dt.timedelta(minutes=2)
    with pytest.raises(Unauthorized, match="expired"):
        store.accounts.authenticate(token)


def test_revocation_reaches_other_workers(store, settings, clock):
    token = store.accounts.issue_token("ana")
    token_id = store.accounts.authenticate(token).token_id
    with open_store(settings, clock=clock) as other:
        assert other.accounts.authenticate(token).user == "ana"
        store.accounts.revoke_token(token_id, actor="st")
        with pytest.raises(Unauthorized, match="revoked"):
            other.accounts.authenticate(token)
    assert store.accounts.tokens("ana")[0]["revoked"] is not None
    with pytest.raises(NotFound):
        store.accounts.revoke_token("0" * 16)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret, right id
        lambda t: "enc_" + "f" * 16 + "." + t.split(".", 1)[1],  # unknown id
        lambda t: "",
        lambda t: "Bearer " + t,
        lambda t: t.split(".", 1)[0],
    ],
)
def test_bad_tokens_refused(store, mangle):
    token = store.accounts.issue_token("ana")
    store.accounts.authenticate(token)  # the verified memory must not let a wrong secret through
    with pytest.raises(Unauthorized):
        store.accounts.authenticate(mangle(token))


def test_token_needs_existing_user_and_positive_ttl(store):
    with pytest.raises(NotFound):
        store.accounts.issue_token("nobody")
    with pytest.raises(UserError):
        store.accounts.issue_token("ana", dt.timedelta(seconds=0))
    assert store.accounts.tokens("nobody") == []


def test_users_and_roles(store):
    with pytest.raises(Conflict):
        store.accounts.add_user("ana", "researcher")
    with pytest.raises(UserError):
        store.accounts.add_user("eve", "admin")
    store.accounts.add_user("pub", "public")
    assert [u["id"] for u in store.accounts.users()] == ["ana", "pub", "st"]
    assert store.accounts.user("pub")["role"] == "public"
    assert store.accounts.user("nobody") is None


def test_project_lifecycle(store):
    rec = store.projects.apply(
        "flu",
        title="Flu",
        purpose="Seasonality",
        tables=("claims",),
        requested_epsilon=2.0,
        applicant="ana",
    )
    assert (rec.status, rec.tables, rec.requested_epsilon) == ("pending", ("claims",), 2.0)
    with pytest.raises(Conflict):
        store.projects.apply(
            "flu", title="", purpose="", tables=(), requested_epsilon=None, applicant="ana"
        )
    with pytest.raises(Conflict, match="pending"):
        store.projects.set_status("flu", "suspended", steward="st")
    assert store.projects.set_status("flu", "active", steward="st").status == "active"
    rec = store.projects.set_status("flu", "suspended", steward="st", reason="audit review")
    assert (rec.status, rec.reason) == ("suspended", "audit review")
    with pytest.raises(NotFound):
        store.projects.set_status("nope", "active", steward="st")
    with pytest.raises(UserError):
        store.projects.set_status("flu", "archived", steward="st")
    assert [p.id for p in store.projects.all()] == ["flu"]


def test_memberships(store):
    store.projects.apply(
        "flu",
        title="Flu",
        purpose="p",
        tables=(),
        requested_epsilon=None,
        applicant="st",
        status="active",
    )
    store.projects.add_member("flu", "ana", steward="st")
    store.projects.add_member("flu", "ana", steward="st")  # idempotent
    assert store.projects.members("flu") == ["ana"]
    assert store.projects.memberships("ana") == ["flu"]
    with pytest.raises(NotFound):
        store.projects.add_member("flu", "nobody", steward="st")
    with pytest.raises(NotFound):
        store.projects.add_member("nope", "ana", steward="st")
    store.projects.remove_member("flu", "ana", steward="st")
    assert store.projects.members("flu") == []
    with pytest.raises(NotFound):
        store.projects.remove_member("flu", "ana", steward="st")


def test_steward_actions_are_audited(store):
    token = store.accounts.issue_token("ana", actor="st")
    store.accounts.revoke_token(store.accounts.authenticate(token).token_id, actor="st")
    actions = [r["action"] for r in store.audit_log.export()]
    assert actions == ["add_user", "add_user", "issue_token", "revoke_token"]
    assert all(token not in str(r) for r in store.audit_log.export())
    assert store.audit_log.verify().ok


def test_manifests_round_trip(store):
    store.audit_log.record_manifest(
        {"files": [{"name": "claims.csv", "rows_read": 10, "rows_loaded": 9}]}
    )
    store.audit_log.record_manifest({"files": []})
    assert store.audit_log.manifests()[0]["files"][0]["rows_loaded"] == 9
    assert len(store.audit_log.manifests()) == 2
    assert [r["action"] for r in store.audit_log.export()][-2:] == ["ingest", "ingest"]
