"""Capture the database commands a piece of code sends, and judge their query plans.

Shared by ``explain_queries`` and ``index_report`` (backoffice/query_shapes.py
requests the pages; this module knows nothing about them):

* ``capture_commands()``: a pymongo CommandListener on every client of the
  site that keeps the full command documents this thread sends while the
  block runs;
* ``explain()``: runs ``explain`` on a captured read, never the read itself;
* ``plan_offenders()``: walks a real MongoDB explain answer (find, count,
  aggregate, sharded, classic or slot-based engine) for COLLSCAN and in-memory
  SORT stages.

The embedded stand-in answers ``explain`` with its own shape, without a
``queryPlanner``: ``explain_supported()`` says so, and the commands then say
they cannot judge instead of guessing.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pymongo import monitoring
from pymongo.database import Database

# Commands whose plan we can explain without running them.
READ_COMMANDS = {"find", "aggregate", "count", "distinct"}
WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}
# Keys the driver adds to every command; explain must not carry them.
_DRIVER_KEYS = {
    "lsid",
    "txnNumber",
    "autocommit",
    "startTransaction",
    "readConcern",
    "writeConcern",
    "$db",
    "$clusterTime",
    "$readPreference",
    "apiVersion",
    "apiStrict",
    "apiDeprecationErrors",
}


@dataclass
class Captured:
    name: str
    collection: str
    command: dict


@dataclass
class CaptureLog:
    commands: list[Captured] = field(default_factory=list)


class _CaptureListener(monitoring.CommandListener):
    """Keeps whole commands for the threads inside ``capture_commands``; idle otherwise."""

    def __init__(self):
        self._local = threading.local()

    def started(self, event):
        log = getattr(self._local, "log", None)
        if log is None:
            return
        name = event.command_name
        target = event.command.get(name)
        log.commands.append(
            Captured(
                name=name,
                collection=target if isinstance(target, str) else "",
                command={k: v for k, v in event.command.items() if k not in _DRIVER_KEYS},
            )
        )

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


# Every MongoClient of the site carries this listener (referral_site/db/base.py);
# outside capture_commands it only looks up an unset thread-local per command.
CAPTURE_LISTENER = _CaptureListener()


@contextmanager
def capture_commands() -> Iterator[CaptureLog]:
    """Collect the commands this thread sends inside the block (whole documents)."""
    log = CaptureLog()
    CAPTURE_LISTENER._local.log = log
    try:
        yield log
    finally:
        CAPTURE_LISTENER._local.log = None


# --------------------------------------------------------------------------
# Shapes: a command without its values, so that one page's queries group.
# --------------------------------------------------------------------------


def value_shape(value):
    """Field names and operators kept, values replaced by their kind."""
    if isinstance(value, dict):
        return {key: value_shape(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(item, dict) for item in value):
            return [value_shape(item) for item in value]
        return "[...]"
    return "?"


def command_filter(command: Captured) -> dict:
    """The filter part of a read or write, for the report."""
    body = command.command
    if command.name == "find":
        return body.get("filter") or {}
    if command.name in ("count", "distinct"):
        return body.get("query") or {}
    if command.name == "aggregate":
        for stage in body.get("pipeline") or []:
            if "$match" in stage:
                return stage["$match"]
        return {}
    if command.name == "update":
        updates = body.get("updates") or [{}]
        return updates[0].get("q") or {}
    if command.name == "delete":
        deletes = body.get("deletes") or [{}]
        return deletes[0].get("q") or {}
    if command.name == "findAndModify":
        return body.get("query") or {}
    return {}


def command_sort(command: Captured) -> dict:
    body = command.command
    if command.name == "find":
        return dict(body.get("sort") or {})
    if command.name == "aggregate":
        for stage in body.get("pipeline") or []:
            if "$sort" in stage:
                return dict(stage["$sort"])
    return {}


def shape_text(command: Captured) -> str:
    filter_shape = value_shape(command_filter(command))
    sort = command_sort(command)
    text = f"{command.name} {command.collection} {filter_shape}"
    return text + (f" sort {sort}" if sort else "")


# --------------------------------------------------------------------------
# Explain
# --------------------------------------------------------------------------


def explain(db: Database, command: Captured, verbosity: str = "queryPlanner") -> dict:
    """The server's plan for a captured read; the read itself is not run (queryPlanner)."""
    body = {k: v for k, v in command.command.items() if k not in ("cursor",)}
    if command.name == "aggregate":
        body["cursor"] = {}
    for key in ("batchSize", "singleBatch", "noCursorTimeout"):
        body.pop(key, None)
    return db.command("explain", body, verbosity=verbosity)


def explain_supported(db: Database, collection: str) -> bool:
    """Does the server answer ``explain`` with a query plan (real MongoDB does)?"""
    answer = db.command("explain", {"find": collection, "filter": {}}, verbosity="queryPlanner")
    return bool(list(_planners(answer)))


def is_embedded_server(db: Database) -> bool:
    """The embedded stand-in (referral_site/embedded.py) names itself in buildInfo.

    Only the operations tools ask: it answers explain and $indexStats in
    shapes that say nothing (no plans, no usage counts).
    """
    return db.client.admin.command("buildInfo").get("gitVersion") == "mongoeco"


def server_name(db: Database) -> str:
    """A short name of the server, for messages ("MongoDB 7.0.12", "mongoeco (embedded)")."""
    info = db.client.admin.command("buildInfo")
    if info.get("gitVersion") == "mongoeco":
        return "the embedded stand-in server (mongoeco)"
    return f"MongoDB {info.get('version', '?')}"


@dataclass(frozen=True)
class Offence:
    stage: str  # "COLLSCAN" or "SORT"
    detail: str


def _planners(answer: dict) -> Iterator[dict]:
    """Every queryPlanner section of an explain answer, wherever the command put it."""
    if not isinstance(answer, dict):
        return
    if isinstance(answer.get("queryPlanner"), dict):
        yield answer["queryPlanner"]
    # aggregate: {"stages": [{"$cursor": {"queryPlanner": ...}}, ...]}
    for stage in answer.get("stages") or []:
        if isinstance(stage, dict):
            cursor = stage.get("$cursor")
            if isinstance(cursor, dict):
                yield from _planners(cursor)
    # sharded aggregate: {"shards": {"shard0": {...explain...}}}
    shards = answer.get("shards")
    if isinstance(shards, dict):
        for shard in shards.values():
            yield from _planners(shard)


def _winning_plans(planner: dict) -> Iterator[dict]:
    plan = planner.get("winningPlan")
    if not isinstance(plan, dict):
        return
    # sharded find: winningPlan.shards[*].winningPlan
    if isinstance(plan.get("shards"), list):
        for shard in plan["shards"]:
            if isinstance(shard, dict) and isinstance(shard.get("winningPlan"), dict):
                yield from _winning_plans(shard)
        return
    # MongoDB 7 slot-based engine: {"queryPlan": {...}, "slotBasedPlan": {...}}
    yield plan["queryPlan"] if isinstance(plan.get("queryPlan"), dict) else plan


def _stages(plan: dict) -> Iterator[dict]:
    yield plan
    inner = plan.get("inputStage")
    if isinstance(inner, dict):
        yield from _stages(inner)
    for inner in plan.get("inputStages") or []:
        if isinstance(inner, dict):
            yield from _stages(inner)


def _execution_stages(answer: dict) -> Iterator[dict]:
    if not isinstance(answer, dict):
        return
    stats = answer.get("executionStats")
    if isinstance(stats, dict) and isinstance(stats.get("executionStages"), dict):
        yield from _stages(stats["executionStages"])
    for stage in answer.get("stages") or []:
        if isinstance(stage, dict) and isinstance(stage.get("$cursor"), dict):
            yield from _execution_stages(stage["$cursor"])


def plan_offenders(answer: dict, *, page_size: int = 20) -> list[Offence]:
    """COLLSCAN stages, and in-memory SORT stages over more than ``page_size`` documents.

    With queryPlanner verbosity the sort's input size is unknown: every
    in-memory SORT is reported unless its limit is at most a page (a top-k
    sort of a page is what an unindexed small sort looks like). With
    executionStats verbosity the SORT's input count decides.
    """
    offences: list[Offence] = []
    sorted_inputs = {}
    for stage in _execution_stages(answer):
        if stage.get("stage") == "SORT":
            inner = stage.get("inputStage") or {}
            sorted_inputs[id(stage)] = inner.get("nReturned", stage.get("nReturned"))
    measured = [count for count in sorted_inputs.values() if isinstance(count, int)]

    for planner in _planners(answer):
        namespace = planner.get("namespace", "")
        for plan in _winning_plans(planner):
            for stage in _stages(plan):
                kind = stage.get("stage")
                if kind == "COLLSCAN":
                    offences.append(Offence("COLLSCAN", f"collection scan of {namespace}"))
                elif kind == "SORT":
                    if measured:
                        largest = max(measured)
                        if largest > page_size:
                            offences.append(
                                Offence("SORT", f"in-memory sort of {largest} documents")
                            )
                        continue
                    limit = stage.get("limitAmount")
                    if isinstance(limit, int) and limit <= page_size:
                        continue
                    pattern = stage.get("sortPattern")
                    offences.append(
                        Offence(
                            "SORT",
                            f"in-memory sort by {pattern}"
                            + (f" (limit {limit})" if limit else " (no limit)"),
                        )
                    )
    return offences


def index_names_used(answer: dict) -> set[str]:
    """The indexes a winning plan reads (IXSCAN, COUNT_SCAN, DISTINCT_SCAN, ...)."""
    names = set()
    for planner in _planners(answer):
        for plan in _winning_plans(planner):
            for stage in _stages(plan):
                if isinstance(stage.get("indexName"), str):
                    names.add(stage["indexName"])
    return names
