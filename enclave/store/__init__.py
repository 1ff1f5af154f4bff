"""The metadata store, outside the warehouse: budget ledger, release cache, audit chain,
ingest manifests, users, tokens, project lifecycle and memberships.

The value types (budgets, asks, reservations, top-ups, audit records, principals) and
the ledger's unit conversions are ``_types.__all__``, exported here as they are.

>>> import tempfile
>>> from pathlib import Path
>>> from enclave.settings import Settings
>>> with tempfile.TemporaryDirectory() as home:
...     with open_store(Settings(home=Path(home))) as store:
...         limits = BudgetLimits(epsilon=1.0)
...         r = store.reserve(BudgetAsk(project="p", user="u", epsilon=0.4, delta=0.0,
...                                     request_id="r1", sql_hash="h", limits=limits))
...         store.commit(r, cache_key="k", release={"rows": [[1]]})
...         (store.budget("p", limits).epsilon_remaining, store.cached_release("p", "k"),
...          store.audit_log.verify().ok)
(0.6, {'rows': [[1]]}, True)
"""

from enclave.store import _types
from enclave.store._projects import ProjectState
from enclave.store._store import Store, open_store
from enclave.store._types import *  # noqa: F403

__all__ = ["ProjectState", "Store", "open_store", *_types.__all__]
