"""pymongo command monitoring: count the commands a piece of code sends.

Counting at the driver, not in the ORM, sees every command: ORM queries and
the direct pymongo calls that the credit services make alike. Used by tests
and benchmarks to bound the database commands per request. The same listener
logs slow commands and keeps the last RECENT_COMMANDS of them (name,
collection, duration, time) for the admin overview's "slowest recent commands".
"""

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from pymongo import monitoring


@dataclass
class CommandLog:
    commands: list[tuple[str, str]] = field(default_factory=list)
    # Milliseconds each finished command took, as the driver measured it
    # (send to reply): the database's share of a request, for the benchmark.
    durations_ms: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.commands)

    @property
    def total_ms(self) -> float:
        return sum(self.durations_ms)

    def names(self) -> list[str]:
        return [f"{name} {collection}".strip() for name, collection in self.commands]


class _CountingListener(monitoring.CommandListener):
    def __init__(self):
        self._local = threading.local()

    def _logs(self) -> list[CommandLog]:
        logs = getattr(self._local, "logs", None)
        if logs is None:
            logs = self._local.logs = []
        return logs

    def started(self, event):
        logs = self._logs()
        if not logs:
            return
        name = event.command_name
        collection = event.command.get(name)
        entry = (name, collection if isinstance(collection, str) else "")
        for log in logs:
            log.commands.append(entry)

    def succeeded(self, event):
        self._finish(event)

    def failed(self, event):
        self._finish(event)

    def _finish(self, event):
        logs = self._logs()
        if not logs:
            return
        duration_ms = event.duration_micros / 1000
        for log in logs:
            log.durations_ms.append(duration_ms)


# Told of every finished command: (command name, collection, "ok" or "failed", ms).
CommandObserver = Callable[[str, str, str, float], None]

# How many of this process's latest commands the slowest are picked from.
RECENT_COMMANDS = 500


@dataclass(frozen=True)
class RecentCommand:
    name: str
    collection: str
    duration_ms: float
    outcome: str
    at: float  # time.time() when it finished

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.at, tz=UTC)


class SlowCommandListener(monitoring.CommandListener):
    """Log every command slower than SLOW_QUERY_MS: collection, name, duration.

    Never the command document itself: filters and updates carry e-mail
    addresses, names and tokens, and logs carry no personal data.

    Also keeps the last RECENT_COMMANDS commands of this process (name,
    collection, duration, outcome, time) in a bounded deque, appended under
    the lock the listener takes anyway, so recording costs one small tuple per
    command; sorting happens only when someone asks for the slowest.

    And tells its observers (the Prometheus metrics) of every finished
    command: one listener, one lookup of the command's collection, for all
    of them. Each listener pymongo calls costs every command of every request
    (a second command listener for the metrics added about 20 us of CPU to a
    find_one of 160 us).
    """

    def __init__(self, recent: int = RECENT_COMMANDS):
        self._collections: dict[tuple, str] = {}
        self._lock = threading.Lock()
        self._recent: deque[tuple] = deque(maxlen=recent)
        self._observers: tuple[CommandObserver, ...] = ()

    def observe(self, observer: CommandObserver) -> None:
        """Also call ``observer(name, collection, outcome, ms)`` for every finished command."""
        with self._lock:
            if observer not in self._observers:
                self._observers = (*self._observers, observer)

    def slowest(self, limit: int = 10) -> list[RecentCommand]:
        """The slowest of the recent commands, slowest first (this process only)."""
        with self._lock:
            recent = list(self._recent)
        return [RecentCommand(*entry) for entry in heapq.nlargest(limit, recent, key=_duration)]

    def recent_count(self) -> int:
        return len(self._recent)

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()

    def started(self, event):
        collection = event.command.get(event.command_name)
        with self._lock:
            self._collections[(event.connection_id, event.request_id)] = (
                collection if isinstance(collection, str) else ""
            )

    def _finish(self, event, outcome: str):
        duration_ms = event.duration_micros / 1000
        with self._lock:
            collection = self._collections.pop((event.connection_id, event.request_id), "")
            self._recent.append((event.command_name, collection, duration_ms, outcome, time.time()))
        for observer in self._observers:
            observer(event.command_name, collection, outcome, duration_ms)
        # Read each time, so the threshold can change without new clients.
        if duration_ms >= settings.SLOW_QUERY_MS:
            slow_logger.warning(
                "slow database command: %s %s took %.1f ms (%s)",
                event.command_name,
                collection,
                duration_ms,
                outcome,
                extra={
                    "db_command": event.command_name,
                    "db_collection": collection,
                    "duration_ms": round(duration_ms, 1),
                    "outcome": outcome,
                },
            )

    def succeeded(self, event):
        self._finish(event, "ok")

    def failed(self, event):
        self._finish(event, "failed")


def _duration(entry: tuple) -> float:
    return entry[2]


COUNTING_LISTENER = _CountingListener()
SLOW_LISTENER = SlowCommandListener()
slow_logger = logging.getLogger("referral_site.slow_query")


def slowest_recent_commands(limit: int = 10) -> list[RecentCommand]:
    """The slowest of this process's last RECENT_COMMANDS database commands."""
    return SLOW_LISTENER.slowest(limit)


def event_listeners() -> list[monitoring.CommandListener]:
    """The listeners every MongoClient of the site is created with.

    The counting listener only where something counts (the tests, the
    benchmark: DB_COMMAND_COUNTING); production pays for the slow-query one only.
    """
    if settings.DB_COMMAND_COUNTING:
        return [COUNTING_LISTENER, SLOW_LISTENER]
    return [SLOW_LISTENER]


@contextmanager
def count_commands():
    """Collect the commands this thread sends inside the block."""
    if not settings.DB_COMMAND_COUNTING:
        # Counting without the listener would report 0: refuse instead.
        raise RuntimeError("count_commands needs DB_COMMAND_COUNTING=true (tests, benchmark)")
    log = CommandLog()
    logs = COUNTING_LISTENER._logs()
    logs.append(log)
    try:
        yield log
    finally:
        logs.remove(log)
