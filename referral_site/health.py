"""Is the database answering? Used by /healthz and the outage page."""

import time

from django.db import connection
from pymongo.errors import PyMongoError


def database_status() -> tuple[bool, dict]:
    started = time.perf_counter()
    try:
        connection.ensure_connection()
        connection.connection.admin.command("ping")
    except PyMongoError as exc:
        return False, {"ok": False, "error": type(exc).__name__}
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return True, {"ok": True, "ping_ms": elapsed_ms}
