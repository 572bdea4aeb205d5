"""Multi-document transactions where the deployment has them, and only there.

A replica set or sharded cluster says so in its ``hello`` reply; then the steps
of a multi-step write also run inside one transaction. The embedded server is
a standalone (its transactions block every other session, ARCHITECTURE.md
section 3, gap 7), so nothing may depend on them: every step is already a
conditional single-document update or an insert guarded by a unique index.
"""

from django.db import DatabaseError, connections
from django_mongodb_backend import transaction as mongo_transaction
from pymongo.errors import PyMongoError


def transactions_supported(using: str = "default") -> bool:
    # Cached per connection by the backend: one `hello` per process.
    return bool(connections[using].features._supports_transactions)


def run_atomically(step, using: str = "default"):
    """Return ``step()``, run inside a transaction where the deployment has them.

    Every step is correct without a transaction (conditional updates, unique
    keys), so a transaction that fails is answered by running the step once
    more without one: a duplicate key that means "already done" aborts the
    transaction on the server, and so does a write conflict with a concurrent
    one. A real error recurs in the second run and is raised from there.
    """
    if not transactions_supported(using):
        return step()
    try:
        with mongo_transaction.atomic(using=using):
            return step()
    except (PyMongoError, DatabaseError):
        return step()
