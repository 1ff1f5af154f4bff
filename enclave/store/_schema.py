"""Every table and statement of the metadata store, in one place, in a dialect-neutral subset.

The SQL here runs unchanged on SQLite (>= 3.24) and PostgreSQL (>= 9.5) with two textual
substitutions done by the dialect: ``?`` placeholders (PostgreSQL drivers use ``%s``)
and ``{lock}`` (empty on SQLite, whose ``BEGIN IMMEDIATE`` already holds the write lock;
``FOR UPDATE`` on PostgreSQL, which locks the one row that serialises a budget or the
audit chain). Types are TEXT, BIGINT, INTEGER and DOUBLE PRECISION only; budgets are
integers (see ``_types``); ids are generated in Python, never by the database.

Versions: ``DDL`` creates version ``BASE_VERSION``; ``MIGRATIONS[v]`` takes a store from
version ``v - 1`` to ``v`` by adding columns or tables only (nothing is dropped or
rewritten), and ``store_meta.schema_version`` says where a store is. Opening a store
creates what is missing and runs the migrations it has not had, in the transaction that
creates the schema (serialised by SQLite's write lock or PostgreSQL's advisory lock).

* 2: ``budget_ledger.rho_units`` — the ρ a charge holds (units of 1e-15) for projects
  accounted in ρ-zCDP; 0 for every pure ε-DP charge, old or new.

>>> all(s.startswith("CREATE") for s in DDL)
True
>>> sorted(MIGRATIONS) == list(range(BASE_VERSION + 1, SCHEMA_VERSION + 1))
True
"""

from __future__ import annotations

__all__ = ["BASE_VERSION", "DDL", "MIGRATIONS", "SCHEMA_VERSION", "SQL"]

#: The version ``DDL`` creates; ``SCHEMA_VERSION`` is where ``MIGRATIONS`` take it.
BASE_VERSION = 1
SCHEMA_VERSION = 2

MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE budget_ledger ADD COLUMN rho_units BIGINT NOT NULL DEFAULT 0"
        " CHECK (rho_units >= 0)",
    ),
}

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS store_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    # One row per project that ever spent: the row each budget transaction locks first.
    """CREATE TABLE IF NOT EXISTS budget_projects (
        project TEXT PRIMARY KEY,
        version BIGINT NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS budget_ledger (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        member TEXT NOT NULL,
        request_id TEXT NOT NULL,
        sql_hash TEXT NOT NULL,
        epsilon_micro BIGINT NOT NULL CHECK (epsilon_micro >= 0),
        delta_units BIGINT NOT NULL CHECK (delta_units >= 0),
        status TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'cancelled')),
        created TEXT NOT NULL,
        updated TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS budget_ledger_project ON budget_ledger (project, status)",
    """CREATE TABLE IF NOT EXISTS budget_topups (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        member TEXT,
        epsilon_micro BIGINT NOT NULL CHECK (epsilon_micro >= 0),
        delta_units BIGINT NOT NULL CHECK (delta_units >= 0),
        reason TEXT NOT NULL,
        steward TEXT NOT NULL,
        created TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS budget_topups_project ON budget_topups (project)",
    """CREATE TABLE IF NOT EXISTS release_cache (
        project TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        reservation TEXT NOT NULL,
        body TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (project, cache_key))""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY,
        time TEXT NOT NULL,
        request_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        project TEXT,
        action TEXT NOT NULL,
        verdict TEXT NOT NULL,
        sql_hash TEXT,
        epsilon DOUBLE PRECISION,
        delta DOUBLE PRECISION,
        error_type TEXT,
        detail TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    # The anchor of the chain's head, moved in the same transaction as each append.
    """CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL)""",
    # audit_seq: the seq of the manifest's own audit record, which orders manifests.
    """CREATE TABLE IF NOT EXISTS ingest_manifests (
        id TEXT PRIMARY KEY,
        audit_seq BIGINT NOT NULL,
        created TEXT NOT NULL,
        body TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('steward', 'researcher', 'public')),
        created TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id),
        hash TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT,
        revoked TEXT)""",
    "CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id)",
    """CREATE TABLE IF NOT EXISTS projects (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'rejected')),
        title TEXT NOT NULL,
        purpose TEXT NOT NULL,
        tables_wanted TEXT NOT NULL,
        requested_epsilon DOUBLE PRECISION,
        applicant TEXT,
        reason TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS memberships (
        project TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users (id),
        created TEXT NOT NULL,
        PRIMARY KEY (project, user_id))""",
    # The rules a steward set when approving a project (the policy files are the base).
    """CREATE TABLE IF NOT EXISTS service_project_policies (
        project TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        steward TEXT NOT NULL,
        updated TEXT NOT NULL)""",
    # Queries above a project's review threshold, waiting for (or given) a steward's word.
    """CREATE TABLE IF NOT EXISTS service_reviews (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        requester TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        sql TEXT NOT NULL,
        epsilon DOUBLE PRECISION,
        half_width DOUBLE PRECISION,
        plan_epsilon DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        steward TEXT,
        reason TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS service_reviews_key ON service_reviews (project, cache_key)",
)

_AUDIT_COLS = (
    "seq, time, request_id, actor, project, action, verdict, sql_hash, epsilon, delta,"
    " error_type, detail, prev_hash, hash"
)

#: Named statements. ``?`` is the placeholder, ``{lock}`` the row-lock suffix.
SQL: dict[str, str] = {
    "meta_get": "SELECT value FROM store_meta WHERE key = ?",
    "meta_put": "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
    "meta_set": "UPDATE store_meta SET value = ? WHERE key = ?",
    # budget
    "project_row_ensure": (
        "INSERT INTO budget_projects (project, version) VALUES (?, 0)"
        " ON CONFLICT (project) DO NOTHING"
    ),
    "project_row_lock": "SELECT version FROM budget_projects WHERE project = ? {lock}",
    "project_row_bump": "UPDATE budget_projects SET version = version + 1 WHERE project = ?",
    "spent_project": (
        "SELECT COALESCE(SUM(epsilon_micro), 0), COALESCE(SUM(delta_units), 0),"
        " COALESCE(SUM(CASE WHEN status = 'reserved' THEN epsilon_micro ELSE 0 END), 0)"
        " FROM budget_ledger WHERE project = ? AND status IN ('reserved', 'committed')"
    ),
    "spent_member": (
        "SELECT COALESCE(SUM(epsilon_micro), 0) FROM budget_ledger"
        " WHERE project = ? AND member = ? AND status IN ('reserved', 'committed')"
    ),
    # zcdp projects: ρ held and charged (reserved + committed), of which reserved
    "spent_project_rho": (
        "SELECT COALESCE(SUM(rho_units), 0),"
        " COALESCE(SUM(CASE WHEN status = 'reserved' THEN rho_units ELSE 0 END), 0)"
        " FROM budget_ledger WHERE project = ? AND status IN ('reserved', 'committed')"
    ),
    "spent_member_rho": (
        "SELECT COALESCE(SUM(rho_units), 0) FROM budget_ledger"
        " WHERE project = ? AND member = ? AND status IN ('reserved', 'committed')"
    ),
    "topup_project": (
        "SELECT COALESCE(SUM(epsilon_micro), 0), COALESCE(SUM(delta_units), 0)"
        " FROM budget_topups WHERE project = ? AND member IS NULL"
    ),
    "topup_member": (
        "SELECT COALESCE(SUM(epsilon_micro), 0) FROM budget_topups"
        " WHERE project = ? AND (member IS NULL OR member = ?)"
    ),
    "topup_insert": (
        "INSERT INTO budget_topups"
        " (id, project, member, epsilon_micro, delta_units, reason, steward, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "ledger_insert": (
        "INSERT INTO budget_ledger (id, project, member, request_id, sql_hash, epsilon_micro,"
        " delta_units, status, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?)"
    ),
    "ledger_insert_rho": (
        "INSERT INTO budget_ledger (id, project, member, request_id, sql_hash, epsilon_micro,"
        " delta_units, rho_units, status, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?)"
    ),
    "ledger_settle": (
        "UPDATE budget_ledger SET status = ?, updated = ? WHERE id = ? AND status = 'reserved'"
    ),
    "ledger_status": "SELECT status FROM budget_ledger WHERE id = ?",
    "cache_insert": (
        "INSERT INTO release_cache (project, cache_key, reservation, body, created)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (project, cache_key) DO NOTHING"
    ),
    "cache_get": "SELECT body FROM release_cache WHERE project = ? AND cache_key = ?",
    # audit
    "head_ensure": (
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING"
    ),
    "head_lock": "SELECT seq, hash FROM audit_head WHERE id = 1 {lock}",
    "head_get": "SELECT seq, hash FROM audit_head WHERE id = 1",
    "head_move": "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
    "audit_insert": f"INSERT INTO audit_log ({_AUDIT_COLS}) VALUES ({', '.join('?' * 14)})",
    "audit_page": f"SELECT {_AUDIT_COLS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
    "audit_by_hash": "SELECT seq FROM audit_log WHERE hash = ?",
    "audit_count_from": "SELECT COUNT(*) FROM audit_log WHERE seq >= ?",
    # manifests
    "manifest_insert": (
        "INSERT INTO ingest_manifests (id, audit_seq, created, body) VALUES (?, ?, ?, ?)"
    ),
    "manifest_all": "SELECT body FROM ingest_manifests ORDER BY audit_seq",
    # accounts
    "user_insert": "INSERT INTO users (id, role, created) VALUES (?, ?, ?)",
    "user_get": "SELECT id, role, created FROM users WHERE id = ?",
    "user_all": "SELECT id, role, created FROM users ORDER BY id",
    "token_insert": (
        "INSERT INTO tokens (id, user_id, hash, created, expires, revoked)"
        " VALUES (?, ?, ?, ?, ?, NULL)"
    ),
    "token_get": (
        "SELECT t.id, t.user_id, t.hash, t.expires, t.revoked, u.role"
        " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?"
    ),
    "token_revoke": "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
    "token_exists": "SELECT revoked, user_id FROM tokens WHERE id = ?",
    "token_list": (
        "SELECT id, user_id, created, expires, revoked FROM tokens"
        " WHERE user_id = ? ORDER BY created, id"
    ),
    "project_insert": (
        "INSERT INTO projects (id, status, title, purpose, tables_wanted, requested_epsilon,"
        " applicant, reason, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"
    ),
    "project_get": (
        "SELECT id, status, title, purpose, tables_wanted, requested_epsilon, applicant,"
        " created, updated, reason FROM projects WHERE id = ?"
    ),
    "project_all": (
        "SELECT id, status, title, purpose, tables_wanted, requested_epsilon, applicant,"
        " created, updated, reason FROM projects ORDER BY id"
    ),
    "project_status": "UPDATE projects SET status = ?, reason = ?, updated = ? WHERE id = ?",
    "member_insert": (
        "INSERT INTO memberships (project, user_id, created) VALUES (?, ?, ?)"
        " ON CONFLICT (project, user_id) DO NOTHING"
    ),
    "member_delete": "DELETE FROM memberships WHERE project = ? AND user_id = ?",
    "members_of": "SELECT user_id FROM memberships WHERE project = ? ORDER BY user_id",
    "projects_of": "SELECT project FROM memberships WHERE user_id = ? ORDER BY project",
    # approval rules and reviews
    "policy_put": (
        "INSERT INTO service_project_policies (project, body, steward, updated)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET body = excluded.body,"
        " steward = excluded.steward, updated = excluded.updated"
    ),
    "policy_get": "SELECT body FROM service_project_policies WHERE project = ?",
    "policy_all": "SELECT project, body FROM service_project_policies ORDER BY project",
    # Per-project totals for the dataset-wide ceiling (service/_ceiling.py).
    "ceiling_topups": (
        "SELECT project, COALESCE(SUM(epsilon_micro), 0), COALESCE(SUM(delta_units), 0)"
        " FROM budget_topups WHERE member IS NULL GROUP BY project"
    ),
    "ceiling_spent": (
        "SELECT project, COALESCE(SUM(epsilon_micro), 0), COALESCE(SUM(delta_units), 0)"
        " FROM budget_ledger WHERE status IN ('reserved', 'committed') GROUP BY project"
    ),
    "review_insert": (
        "INSERT INTO service_reviews (id, project, requester, cache_key, sql, epsilon,"
        " half_width, plan_epsilon, status, steward, reason, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, ?)"
    ),
    "review_get": (
        "SELECT id, project, requester, cache_key, sql, epsilon, half_width, plan_epsilon,"
        " status, steward, reason, created, updated FROM service_reviews WHERE id = ?"
    ),
    "review_list": (
        "SELECT id, project, requester, cache_key, sql, epsilon, half_width, plan_epsilon,"
        " status, steward, reason, created, updated FROM service_reviews"
        " ORDER BY created, id"
    ),
    "review_open": (
        "SELECT id, status FROM service_reviews WHERE project = ? AND cache_key = ?"
        " AND status IN ('pending', 'approved') ORDER BY created"
    ),
    "review_decide": (
        "UPDATE service_reviews SET status = ?, steward = ?, reason = ?, updated = ?"
        " WHERE id = ? AND status = 'pending'"
    ),
    "review_approved": (
        "SELECT 1 FROM service_reviews WHERE project = ? AND cache_key = ? AND status = 'approved'"
    ),
}
