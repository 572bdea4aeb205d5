"""Prometheus metrics: requests, database commands, the connection pool, the server.

Multiprocess mode (prometheus-client): when PROMETHEUS_MULTIPROC_DIR is set
(gunicorn.conf.py sets it for every worker before the application loads),
each worker writes its counters and histograms to memory-mapped files in that
directory and any worker answering /metrics sums them all, so a scrape that
lands on one worker still counts the requests every worker served. Without
it (runserver, the tests), the process's own values are served.

What is read from the database at scrape time (serverStatus; the business
numbers that backoffice registers) is not a per-process value: the scraping
worker asks the database, at most once per METRICS_DB_SCRAPE_SECONDS, and
serves the cached answer in between, so a scraper polling every second does
not load the database.

The endpoint is closed unless METRICS_ALLOWED_IPS names the client address or
METRICS_BEARER_TOKEN is presented (``Authorization: Bearer <token>``).
"""

import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from pymongo import monitoring
from pymongo.errors import PyMongoError

from referral_site.db_monitoring import SLOW_LISTENER

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by view and status",
    ["view", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by view",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_COMMANDS = Counter(
    "mongodb_commands_total",
    "Database commands sent, by command name, collection and outcome",
    ["command", "collection", "outcome"],
)
DB_COMMAND_SECONDS = Histogram(
    "mongodb_command_duration_seconds",
    "Duration of database commands, by command name and collection",
    ["command", "collection"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
POOL_CHECKOUTS = Counter(
    "mongodb_pool_checkouts_total", "Connections checked out of the driver's pool"
)
POOL_CHECKOUT_FAILURES = Counter(
    "mongodb_pool_checkout_failures_total",
    "Connection checkouts that failed, by reason (timeout: the pool was exhausted)",
    ["reason"],
)
POOL_WAIT_SECONDS = Histogram(
    "mongodb_pool_checkout_wait_seconds",
    "Time a request waited for a pooled connection",
    buckets=(0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
# livesum: the sum over the workers alive now (a dead worker's pool is gone).
POOL_CONNECTIONS = Gauge(
    "mongodb_pool_connections",
    "Open connections in the driver pools of all live workers",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "mongodb_pool_connections_in_use",
    "Connections checked out right now, all live workers",
    multiprocess_mode="livesum",
)


def enabled() -> bool:
    return getattr(settings, "METRICS_ENABLED", True)


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------


class RequestMetricsMiddleware:
    """Counts every response by view name and status, and times it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not enabled():
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        # The URL pattern's name, never the path: paths carry ids (cardinality).
        view = (match.view_name or match._func_path) if match else "unmatched"
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(view).observe(time.perf_counter() - started)
        return response


# --------------------------------------------------------------------------
# Database commands and the connection pool (pymongo listeners)
# --------------------------------------------------------------------------


# (command, collection, outcome) -> its counter and histogram: labels() takes a
# lock and checks the label values on every call; a dict lookup does not.
_command_metrics: dict[tuple, tuple] = {}


def observe_command(command: str, collection: str, outcome: str, duration_ms: float) -> None:
    """Count and time one finished command (told by the slow-command listener)."""
    key = (command, collection, outcome)
    metrics = _command_metrics.get(key)
    if metrics is None:
        metrics = _command_metrics[key] = (
            DB_COMMANDS.labels(command, collection, outcome),
            DB_COMMAND_SECONDS.labels(command, collection),
        )
    metrics[0].inc()
    metrics[1].observe(duration_ms / 1000)


class PoolMetricsListener(monitoring.ConnectionPoolListener):
    def pool_created(self, event):
        pass

    def pool_ready(self, event):
        pass

    def pool_cleared(self, event):
        pass

    def pool_closed(self, event):
        pass

    def connection_created(self, event):
        POOL_CONNECTIONS.inc()

    def connection_ready(self, event):
        pass

    def connection_closed(self, event):
        POOL_CONNECTIONS.dec()

    def connection_check_out_started(self, event):
        pass

    def connection_check_out_failed(self, event):
        POOL_CHECKOUT_FAILURES.labels(str(event.reason)).inc()

    def connection_checked_out(self, event):
        POOL_CHECKOUTS.inc()
        POOL_IN_USE.inc()
        duration = getattr(event, "duration", None)  # seconds, pymongo >= 4.7
        if duration is not None:
            POOL_WAIT_SECONDS.observe(duration)

    def connection_checked_in(self, event):
        POOL_IN_USE.dec()


POOL_LISTENER = PoolMetricsListener()


def metrics_listeners() -> list:
    """The listeners every MongoClient of the site is created with (referral_site/db/base.py).

    The pool's own listener; the commands are counted through the slow-command
    listener every client has anyway (one command listener fewer per command).
    """
    if not enabled():
        return []
    SLOW_LISTENER.observe(observe_command)
    return [POOL_LISTENER]


# --------------------------------------------------------------------------
# Read at scrape time: the server's status, and what higher layers register
# --------------------------------------------------------------------------

# A function returning metric families, computed from the database at scrape time.
ScrapeSource = Callable[[], Iterable[Metric]]
_sources: list[ScrapeSource] = []


def register_scrape_source(source: ScrapeSource) -> None:
    """Add database-derived metrics (backoffice registers credits, purchases, conversions)."""
    if source not in _sources:
        _sources.append(source)


def server_status_metrics() -> Iterable[Metric]:
    status = connection.connection.admin.command("serverStatus")
    memory = status.get("mem") or {}
    family = GaugeMetricFamily(
        "mongodb_server_memory_megabytes", "Memory of the database server", labels=["kind"]
    )
    for kind in ("resident", "virtual"):
        if isinstance(memory.get(kind), int | float):
            family.add_metric([kind], memory[kind])
    yield family
    connections = status.get("connections") or {}
    family = GaugeMetricFamily(
        "mongodb_server_connections", "Connections to the database server", labels=["state"]
    )
    for state in ("current", "available", "active"):
        if isinstance(connections.get(state), int | float):
            family.add_metric([state], connections[state])
    yield family


class _CachedScrape:
    """The database-derived families, recomputed at most every METRICS_DB_SCRAPE_SECONDS."""

    def __init__(self):
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._families: list[Metric] = []

    def collect(self) -> list[Metric]:
        with self._lock:
            if time.monotonic() - self._at >= settings.METRICS_DB_SCRAPE_SECONDS:
                self._families = self._read()
                self._at = time.monotonic()
            return list(self._families)

    def clear(self) -> None:
        with self._lock:
            self._at = float("-inf")

    def _read(self) -> list[Metric]:
        families: list[Metric] = []
        up = GaugeMetricFamily("mongodb_scrape_ok", "1 if the database answered the last scrape")
        try:
            connection.ensure_connection()
            families.extend(server_status_metrics())
            for source in _sources:
                families.extend(source())
            up.add_metric([], 1)
        except PyMongoError:
            up.add_metric([], 0)
        families.append(up)
        return families


SCRAPE = _CachedScrape()


class _ScrapeCollector:
    def collect(self):
        return SCRAPE.collect()


_scrape_registry = CollectorRegistry()
_scrape_registry.register(_ScrapeCollector())


def exposition() -> bytes:
    """The text exposition of every metric: all workers' and the database's."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_scrape_registry)


# --------------------------------------------------------------------------
# The endpoint
# --------------------------------------------------------------------------


def client_allowed(request) -> bool:
    """From an address of METRICS_ALLOWED_IPS, or with the bearer token; nobody by default."""
    token = settings.METRICS_BEARER_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode()):
            return True
    # The direct peer: Prometheus scrapes each host itself, not through the proxy.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


@never_cache
@require_GET
def metrics_view(request):
    if not enabled():
        return HttpResponseNotFound("metrics are off", content_type="text/plain")
    if not client_allowed(request):
        return HttpResponseForbidden(
            "metrics: this client is not allowed (METRICS_ALLOWED_IPS, METRICS_BEARER_TOKEN)",
            content_type="text/plain",
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
