"""The row-choice hash both engines compute alike: the bounding SQL orders rows and groups by
it, so DuckDB and Spark keep the same rows for the same salt.

DuckDB's own ``hash()`` has no Spark twin; ``md5`` over the values joined with ``|`` has
(NULLs are skipped by ``concat_ws`` on both engines).
"""

from __future__ import annotations

import hashlib

__all__ = ["portable_hash", "query_salt"]


def portable_hash(*sql_exprs: str) -> str:
    """The row-choice hash both engines compute alike (DuckDB SQL).

    >>> portable_hash("__pid", "'s'")
    "md5(concat_ws('|', CAST(__pid AS VARCHAR), CAST('s' AS VARCHAR)))"
    """
    parts = ", ".join(f"CAST({e} AS VARCHAR)" for e in sql_exprs)
    return f"md5(concat_ws('|', {parts}))"


def query_salt(normalized_sql: str) -> str:
    """Per-query salt for the hash that picks rows and groups (hex, from the SQL)."""
    return hashlib.sha256(b"enclave-bounds\0" + normalized_sql.encode()).hexdigest()[:16]
