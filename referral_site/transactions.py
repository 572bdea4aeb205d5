"""Multi-document transactions where the deployment has them, and only there.

A replica set or sharded cluster says so in its ``hello`` reply; then the steps
of a multi-step write also run inside one transaction. The embedded server is
a standalone (its transactions block every other session, ARCHITECTURE.md
section 3, gap 7), so nothing may depend on them: every step is already a
conditional single-document update or an insert guarded by a unique index.
"""

from contextlib import contextmanager, nullcontext

from django.db import connections
from django_mongodb_backend import transaction as mongo_transaction


def transactions_supported(using: str = "default") -> bool:
    # Cached per connection by the backend: one `hello` per process.
    return bool(connections[using].features._supports_transactions)


@contextmanager
def atomic_if_supported(using: str = "default"):
    context = mongo_transaction.atomic(using=using) if transactions_supported(using) else (
        nullcontext())
    with context:
        yield
