"""Operations on the whole database: CSV export, backup and restore.

The logic lives here; the management commands (export_csv, backup, restore)
and the admin's "Export selected as CSV" action only parse input and report.
Everything talks to MongoDB through pymongo on Django's default connection,
not the ORM, so it works for any collection, including ones without a model.
"""

from django.db import connection
from pymongo.database import Database

# Documents per round trip: cursor batches and insert_many calls. Big enough to
# keep round trips few, small enough that memory stays flat, and an insert_many
# of this size stays cheap on the embedded server (ARCHITECTURE.md section 3, gap 8).
BATCH_SIZE = 500


class OperationError(Exception):
    """A one-line reason an operation cannot go on; the commands print it as is."""


def site_database() -> Database:
    """The pymongo database behind Django's default connection."""
    connection.ensure_connection()
    return connection.database


def is_system_collection(name: str) -> bool:
    return name.startswith("system.")


def one_line(exc: BaseException) -> str:
    """An exception as one short line, for a command's error message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
