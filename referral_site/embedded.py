"""The embedded MongoDB-wire server used when ``MONGODB_URI`` is not set.

This module is the only place that starts, finds or stops the stand-in server
(the ``mongoeco`` package), and the only place that knows what it gets wrong
(ARCHITECTURE.md section 3). Application code talks to it through pymongo and
django-mongodb-backend exactly as it would talk to a real MongoDB.

Two ways to run it:

* ``ensure_running(data_dir)``: a long-lived server on the SQLite engine with its
  data under ``var/``, shared by ``manage.py`` commands, the development server
  and gunicorn workers. Started on first use, reused while it answers, stopped
  with ``manage.py embedded_db stop``.
* ``start_ephemeral()``: a memory-engine server on a free port for one test run.

The server itself runs in its own process (``python -m referral_site.embedded
serve``) so that its single event loop never shares a GIL with the site.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from pathlib import Path

from bson import ObjectId

DEFAULT_PORT = 27117
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# Exit status of the server process when the SQLite data file fails its check.
EXIT_CORRUPT = 3


class EmbeddedServerError(RuntimeError):
    """A one-line, actionable reason why the embedded server is not available."""


@dataclass(frozen=True)
class ServerHandle:
    pid: int
    port: int
    engine: str

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"


# --------------------------------------------------------------------------
# Probing
# --------------------------------------------------------------------------


def ping(port: int, timeout_s: float = 1.0) -> bool:
    """True when a MongoDB-wire server answers ``ping`` on the loopback port."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    timeout_ms = int(timeout_s * 1000)
    client = MongoClient(
        "127.0.0.1",
        port,
        directConnection=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child that exited) still answers kill(0).
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


# --------------------------------------------------------------------------
# The persistent (SQLite) server
# --------------------------------------------------------------------------


def _paths(data_dir: Path) -> tuple[Path, Path, Path, Path]:
    return (
        data_dir / "mongo.sqlite3",
        data_dir / "server.json",
        data_dir / "server.log",
        data_dir / "server.lock",
    )


def _read_state(state_file: Path) -> ServerHandle | None:
    try:
        state = json.loads(state_file.read_text())
        return ServerHandle(pid=int(state["pid"]), port=int(state["port"]), engine=state["engine"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def status(data_dir: Path) -> tuple[ServerHandle | None, bool]:
    """The recorded server of ``data_dir`` (if any) and whether it answers."""
    _, state_file, _, _ = _paths(data_dir)
    handle = _read_state(state_file)
    if handle is None:
        return None, False
    return handle, pid_alive(handle.pid) and ping(handle.port)


def ensure_running(data_dir: Path, port: int = DEFAULT_PORT) -> str:
    """Return the URI of the SQLite-engine server for ``data_dir``, starting it if needed.

    Safe to call from several processes at once (gunicorn workers): a file lock
    makes exactly one of them start the server; the others reuse it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    db_file, state_file, log_file, lock_file = _paths(data_dir)
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        handle = _read_state(state_file)
        if handle is not None:
            if pid_alive(handle.pid) and _wait_until_answering(
                handle.port, deadline_s=START_TIMEOUT_S, pid=handle.pid
            ):
                return handle.uri
            if pid_alive(handle.pid):
                raise EmbeddedServerError(
                    f"the embedded MongoDB server (pid {handle.pid}, port {handle.port}) is "
                    f"running but not answering; run `manage.py embedded_db stop` and retry"
                )
            # The recorded server died (crash, reboot, kill -9): its data is
            # durable in SQLite, so starting a new one is the recovery.
            state_file.unlink(missing_ok=True)
        if not port_is_free(port):
            raise EmbeddedServerError(
                f"port {port} is in use by another program; stop it or set "
                f"EMBEDDED_MONGODB_PORT to a free port"
            )
        handle = _spawn(engine="sqlite", port=port, db_file=db_file, log_file=log_file)
        state = {"pid": handle.pid, "port": handle.port, "engine": "sqlite"}
        state_file.write_text(json.dumps(state))
        return handle.uri


def stop(data_dir: Path) -> ServerHandle | None:
    """Stop the recorded server of ``data_dir``; return it, or None when none ran."""
    _, state_file, _, lock_file = _paths(data_dir)
    if not state_file.exists():
        return None
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        handle = _read_state(state_file)
        if handle is not None and pid_alive(handle.pid):
            terminate(handle.pid)
        state_file.unlink(missing_ok=True)
        return handle


def terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _wait_until_answering(port: int, *, deadline_s: float, pid: int, proc=None) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if proc is None and not pid_alive(pid):
            return False
        if ping(port, timeout_s=0.5):
            return True
        time.sleep(0.05)
    return False


def _spawn(
    *, engine: str, port: int, db_file: Path | None, log_file: Path | None, detach: bool = True
) -> ServerHandle:
    args = [
        sys.executable,
        "-m",
        "referral_site.embedded",
        "serve",
        "--engine",
        engine,
        "--port",
        str(port),
    ]
    if not detach:
        # A per-run server ends with the process that started it, even when
        # that process is killed before it can stop the server.
        args += ["--parent-pid", str(os.getpid())]
    if db_file is not None:
        args += ["--path", str(db_file)]
    log = open(log_file, "ab") if log_file is not None else subprocess.DEVNULL  # noqa: SIM115
    project_root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(project_root), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
        args,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=detach,
        cwd=project_root,
    )
    if log_file is not None:
        log.close()
    if _wait_until_answering(port, deadline_s=START_TIMEOUT_S, pid=proc.pid, proc=proc):
        return ServerHandle(pid=proc.pid, port=port, engine=engine)
    code = proc.poll()
    if code is None:
        terminate(proc.pid)
    if code == EXIT_CORRUPT:
        raise EmbeddedServerError(
            f"the embedded database file {db_file} is corrupt; move it away (or restore a "
            f"backup) and run the command again"
        )
    where = f"; see {log_file}" if log_file is not None else ""
    raise EmbeddedServerError(
        f"the embedded MongoDB server did not start on port {port} (exit status {code}){where}"
    )


# --------------------------------------------------------------------------
# The per-test-run (memory) server
# --------------------------------------------------------------------------


class EphemeralServer:
    """A memory-engine server on a free port, owned by the process that made it."""

    def __init__(self, handle: ServerHandle):
        self.handle = handle
        self.uri = handle.uri

    def stop(self) -> None:
        if pid_alive(self.handle.pid):
            terminate(self.handle.pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.handle.pid, 0)


def start_ephemeral(port: int | None = None) -> EphemeralServer:
    port = port or free_port()
    if not port_is_free(port):
        raise EmbeddedServerError(f"port {port} is in use by another program; choose another port")
    return EphemeralServer(
        _spawn(engine="memory", port=port, db_file=None, log_file=None, detach=False)
    )


# --------------------------------------------------------------------------
# Inside the server process: the accommodations for the stand-in's gaps
# --------------------------------------------------------------------------


def _mongo_truthy(value, missing) -> bool:
    # MongoDB's aggregation truthiness: false, null, 0 and missing are false;
    # everything else (including "" and []) is true.
    if value is missing or value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    try:
        from bson.decimal128 import Decimal128

        if isinstance(value, Decimal128):
            return value.to_decimal() != 0
    except ImportError:  # pragma: no cover - bson ships with pymongo
        pass
    if isinstance(value, int | float):
        return value != 0
    return True


_installed = False


def install_accommodations() -> None:
    """Teach the stand-in what real MongoDB does and it does not (gaps 2, 3, 9...).

    Once per process (the server's; tests may install them in their own
    process to look at the engines directly).
    """
    global _installed
    if _installed:
        return
    _installed = True
    from mongoeco.core.aggregation.extensions import register_aggregation_expression_operator

    # Gap 2: the `$not` aggregation expression is missing; joins, isnull and
    # negated Q objects compile to it.
    def _not(document, spec, variables, dialect, context):
        args = spec if isinstance(spec, list) else [spec]
        if len(args) != 1:
            raise ValueError("$not takes exactly one argument")
        value = context.evaluate_expression_with_missing(document, args[0], variables)
        return not _mongo_truthy(value, context.missing_sentinel)

    register_aggregation_expression_operator("$not", _not)
    _install_integer_width_fix()
    _install_nested_projection_fix()
    _install_sqlite_text_count_fix()
    _install_redundant_unique_check_skip()
    _install_unique_checks_by_key()
    _install_id_in_lookup()
    _install_sorted_limit_by_index()
    _install_union_prefilter()
    _install_plain_comparisons()
    _install_facet_page_by_index()


def _install_integer_width_fix() -> None:
    """Gap 9: every integer arrives as a plain integer, whatever its BSON width.

    Real MongoDB compares numbers by value. The stand-in's SQLite engine
    compares a 64-bit integer (what django-mongodb-backend stores for an
    IntegerField) with a 32-bit one (what pymongo sends for a small Python
    int, and what the stand-in's own ``$inc`` leaves behind) by type: the
    guard ``credits >= 3`` matched a balance of 0, and an equality on two
    such fields matched nothing. Dropping the width on the way in makes every
    stored value and every filter the same kind of integer.
    """
    from bson.int64 import Int64
    from mongoeco.wire import bson_bridge, protocol

    decode = bson_bridge.decode_wire_value

    def decode_plain_integers(value):
        if isinstance(value, Int64):
            return int(value)
        return decode(value)

    # The bridge calls itself through its module global for nested values,
    # and the protocol module imported it by name: replace both.
    bson_bridge.decode_wire_value = decode_plain_integers
    protocol.decode_wire_value = decode_plain_integers


def _index_get(index, key):
    return index.get(key) if hasattr(index, "get") else getattr(index, key, None)


def redundant_unique_index_names(indexes) -> set[str]:
    """Compound unique indexes whose uniqueness another unique index implies.

    If a unique index S covers a strict subset of a compound unique index C's
    fields, and every condition of S's partial filter is also one of C's, then
    any document C would reject, S rejects first: C's check adds nothing.
    (referrals: {referrerId, referredUserId} is implied by {referredUserId}.)
    """
    plain = [
        i
        for i in indexes
        if _index_get(i, "unique")
        and not _index_get(i, "collation")
        and not _index_get(i, "sparse")
        and not _index_get(i, "multikey")
    ]
    redundant = set()
    for compound in plain:
        fields = set(_index_get(compound, "fields") or ())
        if len(fields) < 2:
            continue
        compound_filter = _index_get(compound, "partial_filter_expression") or {}
        for subset in plain:
            subset_fields = set(_index_get(subset, "fields") or ())
            if not subset_fields or not subset_fields < fields:
                continue
            subset_filter = _index_get(subset, "partial_filter_expression") or {}
            if all(compound_filter.get(key) == value for key, value in subset_filter.items()):
                redundant.add(_index_get(compound, "name"))
                break
    return redundant


def _without_redundant_unique(indexes):
    names = redundant_unique_index_names(indexes)
    if not names:
        return indexes
    return [_relaxed(index) if _index_get(index, "name") in names else index for index in indexes]


def _install_redundant_unique_check_skip() -> None:
    """Both engines check a compound unique index by scanning the collection.

    Inserting 1,000 referrals took 50 s (memory) and 120 s (SQLite), almost
    all of it in the {referrerId, referredUserId} check, which the unique
    {referredUserId} index (checked through its index) already implies. The
    index itself stays, as schema.md documents it; only its redundant
    per-insert scan is skipped.
    """
    import threading

    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.engines.sqlite import SQLiteEngine

    ensure_unique = MemoryEngine._ensure_unique_indexes

    def _ensure_unique_indexes(self, db_name, coll_name, candidate, *, indexes_view=None, **kwargs):
        source = self._indexes if indexes_view is None else indexes_view
        indexes = source.get(db_name, {}).get(coll_name, [])
        view = {db_name: {coll_name: _without_redundant_unique(indexes)}}
        return ensure_unique(self, db_name, coll_name, candidate, indexes_view=view, **kwargs)

    MemoryEngine._ensure_unique_indexes = _ensure_unique_indexes

    checking = threading.local()
    validate = SQLiteEngine._validate_document_against_unique_indexes
    load_indexes = SQLiteEngine._load_indexes

    def _validate_document_against_unique_indexes(self, *args, **kwargs):
        checking.active = True
        try:
            return validate(self, *args, **kwargs)
        finally:
            checking.active = False
            checking.checked = ()

    def _load_indexes(self, db_name, coll_name):
        indexes = load_indexes(self, db_name, coll_name)
        if not getattr(checking, "active", False):
            return indexes
        # Also relaxed: the compound indexes already checked through a prefix index.
        checked = getattr(checking, "checked", ())
        return [
            _relaxed(index) if _index_get(index, "name") in checked else index
            for index in _without_redundant_unique(indexes)
        ]

    SQLiteEngine._checking_unique = checking

    SQLiteEngine._validate_document_against_unique_indexes = (
        _validate_document_against_unique_indexes
    )
    SQLiteEngine._load_indexes = _load_indexes


# _id values whose storage key is exact: no other BSON value equals them
# (numbers are the exception: 1, 1.0 and Int64(1) are one _id to MongoDB).
def _exact_id(value) -> bool:
    from bson import ObjectId

    return isinstance(value, ObjectId | str) and not isinstance(value, bool)


def _install_unique_checks_by_key() -> None:
    """Inserts and updates check unique indexes by lookup, not by scanning.

    Two scans ran on every write through the wire, growing with the collection:

    * the ``_id`` check (``scan_payload_id``): every document's _id compared
      with the new one, to catch numerically equal ids of other types. An
      ObjectId or string _id equals only itself, which the storage-key check
      before the scan already answers. Inserting 1,000 users one command took
      3 s (memory engine), quadratic in the batch.
    * (memory engine) compound unique indexes, such as the partial
      ``{userId, isFirstPurchase}`` of purchases that decides a buyer's first
      purchase: checked against every document. The index's own key map holds
      the documents with the same key; only those are compared, with the
      engine's own conflict test. Indexes with array values (multikey) or a
      collation keep the scan.
    """
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.engines.sqlite import SQLiteEngine

    ensure_unique = MemoryEngine._ensure_unique_indexes

    def _ensure_unique_indexes(self, db_name, coll_name, candidate, **kwargs):
        if kwargs.get("scan_payload_id") and _exact_id(candidate.get("_id")):
            kwargs["scan_payload_id"] = False
        source = kwargs.get("indexes_view") or self._indexes
        indexes = source.get(db_name, {}).get(coll_name, [])
        by_key = [index for index in indexes if _compound_checkable(index, candidate)]
        names = _check_compound_by_key(self, db_name, coll_name, candidate, by_key, kwargs)
        if names:
            relaxed = [
                _relaxed(index) if _index_get(index, "name") in names else index
                for index in indexes
            ]
            kwargs["indexes_view"] = {db_name: {coll_name: relaxed}}
        return ensure_unique(self, db_name, coll_name, candidate, **kwargs)

    MemoryEngine._ensure_unique_indexes = _ensure_unique_indexes

    validate = SQLiteEngine._validate_document_against_unique_indexes

    def _validate_document_against_unique_indexes(self, db_name, coll_name, document, **kwargs):
        if kwargs.get("scan_payload_id") and _exact_id(document.get("_id")):
            kwargs["scan_payload_id"] = False
        checked = _sqlite_check_compound_by_prefix(
            self, db_name, coll_name, document, kwargs.get("exclude_storage_key")
        )
        # Read by the relaxing _load_indexes above, for this call only.
        self._checking_unique.checked = checked
        return validate(self, db_name, coll_name, document, **kwargs)

    SQLiteEngine._validate_document_against_unique_indexes = (
        _validate_document_against_unique_indexes
    )


def _compound_checkable(index, candidate) -> bool:
    """A compound unique index the candidate can be checked against by key."""
    fields = _index_get(index, "fields") or ()
    if not _index_get(index, "unique") or len(fields) < 2:
        return False
    if _index_get(index, "collation") or _index_get(index, "multikey"):
        return False
    # Scalar values only: an array or document would make the key multikey.
    return all(not isinstance(_field_value(candidate, f), list | dict) for f in fields)


def _field_value(document, path: str):
    value = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _relaxed(index):
    import dataclasses

    if dataclasses.is_dataclass(index):
        return dataclasses.replace(index, unique=False)
    return {**index, "unique": False}


def _check_compound_by_key(engine, db_name, coll_name, candidate, indexes, kwargs) -> set[str]:
    """Check ``indexes`` through their key maps; the names of those checked (the rest scan)."""
    from mongoeco.engines.virtual_indexes import document_in_virtual_index

    index_data = kwargs.get("index_data_view")
    index_data = engine._index_data if index_data is None else index_data
    storage = kwargs.get("storage_view")
    coll = (engine._storage if storage is None else storage).get(db_name, {}).get(coll_name, {})
    exclude = kwargs.get("exclude_storage_key")
    if exclude is not None and exclude not in coll:
        exclude = engine._storage_key(exclude)
    checked = set()
    for index in indexes:
        name = _index_get(index, "name")
        index_map = index_data.get(db_name, {}).get(coll_name, {}).get(name)
        if index_map is None:
            continue  # no key map to consult: the engine scans for this one
        checked.add(name)
        if not document_in_virtual_index(candidate, index):
            continue
        fields = _index_get(index, "fields")
        for storage_key in index_map.get(engine._index_key(candidate, fields), ()) or ():
            if storage_key == exclude or storage_key not in coll:
                continue
            existing = engine._borrow_storage_document(coll[storage_key])
            if not document_in_virtual_index(existing, index):
                continue
            conflict = engine._unique_index_conflict(candidate, existing, index)
            if conflict is not None:
                raise engine._unique_key_error(
                    f"Duplicate key for unique index '{_index_get(index, 'name')}': "
                    f"{fields}={conflict!r}",
                    f"{db_name}.{coll_name}",
                    candidate,
                    index=index,
                    conflict=conflict,
                )
    return checked


def _sqlite_check_compound_by_prefix(engine, db_name, coll_name, document, exclude) -> set[str]:
    """(SQLite engine) Check compound unique indexes through their first field's index.

    The engine checks a compound unique index by reading every document. When
    the first field has its own plain index (purchases: the userId index of
    the {userId, isFirstPurchase} constraint), the documents sharing the
    candidate's value are read through it and compared with the engine's own
    conflict test. Returns the names of the indexes so checked (raising on a
    duplicate); any other index is left to the engine.
    """
    from mongoeco.core.bson_scalars import is_bson_numeric
    from mongoeco.core.paths import get_document_value
    from mongoeco.engines.virtual_indexes import document_in_virtual_index

    indexes = engine._load_indexes(db_name, coll_name)
    checked = set()
    for index in indexes:
        fields = index["fields"]
        if not _compound_checkable(index, document):
            continue
        prefix = next(
            (
                other
                for other in indexes
                if other["fields"] == [fields[0]]
                and engine._supports_scalar_index(other)
                and other.get("scalar_physical_name")
                and not other.get("partial_filter_expression")
                and not other.get("sparse")
                and not other.get("collation")
            ),
            None,
        )
        if prefix is None:
            continue
        found, value = get_document_value(document, fields[0])
        if not found or is_bson_numeric(value):
            continue  # missing or numeric values: the engine's own comparison
        signature = engine._scalar_value_signature_for_document(document, fields[0])
        conn = engine._require_connection()
        collection_id = engine._lookup_collection_id(conn, db_name, coll_name)
        if signature is None or collection_id is None:
            continue
        checked.add(index["name"])
        if not document_in_virtual_index(document, index):
            continue
        element_type, element_key = signature
        # The index name is the engine's own, quoted by it; the values are bound.
        physical = engine._quote_identifier(str(prefix["scalar_physical_name"]))
        rows = conn.execute(
            f"SELECT storage_key FROM scalar_index_entries INDEXED BY {physical} "  # noqa: S608
            "WHERE collection_id = ? AND index_name = ? AND type_score = ? AND element_key = ?",
            (
                collection_id,
                str(prefix["name"]),
                engine._multikey_type_score(element_type),
                element_key,
            ),
        ).fetchall()
        for (storage_key,) in rows:
            if storage_key == exclude:
                continue
            row = conn.execute(
                "SELECT document FROM documents "
                "WHERE db_name = ? AND coll_name = ? AND storage_key = ?",
                (db_name, coll_name, storage_key),
            ).fetchone()
            if row is None:
                continue
            existing = engine._deserialize_document(row[0])
            if not document_in_virtual_index(existing, index):
                continue
            conflict = engine._unique_index_conflict(document, existing, index)
            if conflict is not None:
                raise engine._unique_key_error(
                    f"Duplicate key for unique index '{index['name']}': {fields}={conflict!r}",
                    f"{db_name}.{coll_name}",
                    document,
                    index=index,
                    conflict=conflict,
                )
    return checked


def _items_in_natural_order(coll, keys: set, *, limit: int | None = None) -> list:
    """(storage key, document) of these keys, in the collection's natural order, as scans give."""
    from mongoeco.engines._memory_collection import MemoryCollection

    if isinstance(coll, MemoryCollection):
        ordered = coll.ordered_keys(keys, limit=limit)
    else:
        ordered = [key for key in coll if key in keys][:limit]
    return [(key, coll[key]) for key in ordered]


def _install_id_in_lookup() -> None:
    """(memory engine) ``{_id: {$in: [...]}}`` reads those documents, not the collection.

    The engine looks an _id up directly only for equality; with ``$in`` it
    scanned every document (the dashboard's names of a page of friends: 22 to
    94 ms from 1x to 4x). The candidates are the listed ids' documents, in the
    collection's natural order as before; the engine still applies the whole
    filter to them.
    """
    from mongoeco.core.query_plan import AndCondition, InCondition
    from mongoeco.engines.memory import MemoryEngine

    candidate_items = MemoryEngine._candidate_items_for_plan_locked

    def id_values(plan):
        if isinstance(plan, InCondition) and plan.field == "_id":
            return plan.values
        if isinstance(plan, AndCondition):
            for clause in plan.clauses:
                if isinstance(clause, InCondition) and clause.field == "_id":
                    return clause.values
        return None

    def _candidate_items_for_plan_locked(self, coll, query_plan, **kwargs):
        values = id_values(query_plan)
        if values is None or not all(_exact_id(value) for value in values):
            return candidate_items(self, coll, query_plan, **kwargs)
        keys = {self._storage_key(value) for value in values}
        return _items_in_natural_order(coll, keys, limit=kwargs.get("natural_order_limit"))

    MemoryEngine._candidate_items_for_plan_locked = _candidate_items_for_plan_locked


def plain_comparable(left, right) -> bool:
    """Whether two values are of one plain BSON type whose order is Python's own.

    Strings (code point order is UTF-8 byte order, MongoDB's without a
    collation), ObjectIds (their 12 bytes) and datetimes of one kind (both
    naive or both aware). Anything else, numbers included (int, long, double
    and decimal compare across types), takes the engine's general comparison.
    """
    kind = type(left)
    if kind is str:
        return type(right) is str
    if kind is datetime:
        return type(right) is datetime and (left.tzinfo is None) == (right.tzinfo is None)
    return isinstance(left, ObjectId) and isinstance(right, ObjectId)


def _install_plain_comparisons() -> None:
    """Two strings, ObjectIds or datetimes are compared as Python compares them.

    The engine's general BSON comparison (numeric wrapping, type ranks,
    ObjectId normalising) ran for every equality it re-checks on a candidate
    and for every comparison of a sort: about 15 us each, most of the cost of
    a page of a user's referrals or credit statement (its $match on the
    referrer and its sort by createdAt and _id), growing with the user's
    documents. For these types the general comparison ends in the same
    Python comparison, so the answer is the same. Equality of plain values
    ends in this comparison too (the engine's values_equal).
    """
    from mongoeco.compat import base

    compare = base._compare_values_default

    def _compare_values_default(left, right, bson_type_order):
        if plain_comparable(left, right):
            return 0 if left == right else (-1 if left < right else 1)
        return compare(left, right, bson_type_order)

    base._compare_values_default = _compare_values_default


def union_prefilters(pipeline) -> dict[str, dict]:
    """{collection: filter} for the collections a pipeline reads only through $unionWith
    stages whose own pipeline starts with a $match (the $match, or an $or of them).

    Any other reference to a collection (a $lookup, a $unionWith without a
    leading $match, one inside a nested stage) leaves it out: it needs every
    document.
    """
    filters: dict[str, list] = {}
    everything: set[str] = set()

    def visit(stages, *, top: bool) -> None:
        for stage in stages:
            if not isinstance(stage, dict) or len(stage) != 1:
                continue
            operator, spec = next(iter(stage.items()))
            if operator == "$unionWith" and isinstance(spec, dict):
                name, sub = spec.get("coll"), spec.get("pipeline") or []
                first = sub[0] if sub and isinstance(sub[0], dict) else {}
                if top and isinstance(name, str) and set(first) == {"$match"}:
                    filters.setdefault(name, []).append(first["$match"])
                elif isinstance(name, str):
                    everything.add(name)
                visit(sub, top=False)
            elif operator == "$unionWith" and isinstance(spec, str):
                everything.add(spec)
            elif operator == "$lookup" and isinstance(spec, dict):
                if isinstance(spec.get("from"), str):
                    everything.add(spec["from"])
                visit(spec.get("pipeline") or [], top=False)
            elif operator == "$facet" and isinstance(spec, dict):
                for sub in spec.values():
                    visit(sub if isinstance(sub, list) else [], top=False)

    visit(pipeline, top=True)
    return {
        name: matches[0] if len(matches) == 1 else {"$or": matches}
        for name, matches in filters.items()
        if name not in everything
    }


def _install_union_prefilter() -> None:
    """A $unionWith whose pipeline starts with a $match reads the matching documents only.

    The stand-in loads every document of a collection a $unionWith names
    before running its pipeline (the product page's product, appended to the
    buyer's purchases: the whole products collection, 60 to 240 documents
    from 1x to 4x; the archive of purchases, which only grows). Loaded
    through a find with that $match, the engine answers it from an index
    (an _id, an indexed field) and the $unionWith's own pipeline still
    applies the $match to what was loaded, so the result is the same.
    """
    from mongoeco.api._async.aggregation_cursor import AsyncAggregationCursor
    from mongoeco.api.operations import compile_find_operation
    from mongoeco.compat import MONGODB_DIALECT_70

    load_resources = AsyncAggregationCursor._load_pipeline_resources
    load_documents = AsyncAggregationCursor._load_collection_documents

    async def _load_pipeline_resources(self):
        self._union_prefilters = union_prefilters(self._pipeline)
        return await load_resources(self)

    async def _load_collection_documents(self, collection_name):
        prefilter = getattr(self, "_union_prefilters", {}).get(collection_name)
        if prefilter is None:
            return await load_documents(self, collection_name)
        operation = compile_find_operation(
            prefilter,
            comment=self._comment,
            max_time_ms=self._max_time_ms,
            dialect=getattr(self._collection, "mongodb_dialect", MONGODB_DIALECT_70),
        )
        return [
            document
            async for document in self._scan_collection_with_operation(collection_name, operation)
        ]

    AsyncAggregationCursor._load_pipeline_resources = _load_pipeline_resources
    AsyncAggregationCursor._load_collection_documents = _load_collection_documents


# Index key positions whose values all have one of these types sort by their
# equality key's value exactly as MongoDB sorts them.
_ORDERABLE_KEY_TYPES = {"bool", "datetime", "number", "str", "objectid"}
_SORT_WINDOW = None  # set in _install_sorted_limit_by_index: a ContextVar
_MISSING = object()


def _install_sorted_limit_by_index() -> None:
    """(memory engine) A find with a sort, a limit and no filter reads only the top of an index.

    The engine read and decoded every document to keep the first few (the
    home page's newest or featured products: 1.3 to 2.5 ms from 60 to 250
    products, growing with the catalog). When an index has exactly the sort's
    keys (or their reverse), its keys are put in the sort's order and only the
    documents of the first ones, enough for skip + limit with ties whole, are
    handed on; the engine still sorts and limits them itself. Indexes with a
    filter, sparse or multikey, keys of mixed types, or finds with a filter,
    collation, hint or text search are left as they were.
    """
    import contextvars

    from mongoeco.core.query_plan import MatchAll
    from mongoeco.engines.memory import MemoryEngine

    global _SORT_WINDOW
    _SORT_WINDOW = contextvars.ContextVar("sorted_limit_window", default=None)
    scan_find = MemoryEngine.scan_find_semantics
    candidate_items = MemoryEngine._candidate_items_for_plan_locked

    def scan_find_semantics(self, db_name, coll_name, semantics, **kwargs):
        documents = scan_find(self, db_name, coll_name, semantics, **kwargs)
        sort = list(semantics.sort or ())
        if not (
            sort
            and all(isinstance(direction, int) for _field, direction in sort)
            and semantics.limit
            and isinstance(semantics.query_plan, MatchAll)
            and semantics.collation is None
            and semantics.text_query is None
            and semantics.hint is None
        ):
            return documents
        window = (sort, semantics.skip + semantics.limit)

        async def scan():
            # Read (and cleared) by the candidate step below, in this task only.
            _SORT_WINDOW.set(window)
            async for document in documents:
                yield document

        return scan()

    def _candidate_items_for_plan_locked(self, coll, query_plan, **kwargs):
        window = _SORT_WINDOW.get()
        if window is not None:
            _SORT_WINDOW.set(None)
            keys = _top_of_index(
                kwargs.get("indexes") or [], kwargs.get("index_data") or {}, *window
            )
            if keys is not None:
                return _items_in_natural_order(coll, keys)
        return candidate_items(self, coll, query_plan, **kwargs)

    MemoryEngine.scan_find_semantics = scan_find_semantics
    MemoryEngine._candidate_items_for_plan_locked = _candidate_items_for_plan_locked


def _plain_index(index) -> bool:
    """An index whose keys hold every document's plain values: ascending or descending
    keys (a text, hashed or geo index orders nothing), no partial filter, not sparse,
    not multikey, no collation."""
    return (
        all(isinstance(direction, int) for _field, direction in index["key"])
        and not index.get("partial_filter_expression")
        and not index.get("sparse")
        and not index.get("multikey")
        and not index.get("collation")
    )


def _top_of_index(indexes, index_data, sort, window: int):
    """Storage keys of the documents first in ``sort`` order, or None when no index serves it."""
    wanted = [(field, 1 if direction > 0 else -1) for field, direction in sort]
    reverse = [(field, -direction) for field, direction in wanted]
    for index in indexes:
        if not _plain_index(index):
            continue
        key = [(field, 1 if direction > 0 else -1) for field, direction in index["key"]]
        if key not in (wanted, reverse):
            continue
        index_map = index_data.get(index["name"])
        if index_map is None:
            continue
        entries = list(index_map.keys())
        for position in range(len(wanted)):
            kinds = {
                entry[position][0] if isinstance(entry[position], tuple) else None
                for entry in entries
            }
            if len(kinds) > 1 or not kinds <= _ORDERABLE_KEY_TYPES:
                return None
        # Stable sorts from the last sort key to the first: the sort's order.
        for position in reversed(range(len(wanted))):
            entries.sort(key=lambda entry, p=position: entry[p][1], reverse=wanted[position][1] < 0)
        chosen = set()
        for entry in entries:
            if len(chosen) >= window:
                break
            chosen.update(index_map[entry])  # a whole key at a time: ties stay together
        return chosen
    return None


def _install_facet_page_by_index() -> None:
    """(memory engine) A $facet page and its counts decode only the page's documents.

    The dashboard's referrals and the credit statement are one aggregation
    each: ``$match`` on the owner, ``$sort``, then a ``$facet`` of one page
    (``$skip``, ``$limit``) with the total (``$count``) or counts by a field
    (``$group`` with ``{$sum: 1}``). The engine decoded, copied and sorted
    every one of the owner's documents to keep ten: 2.5 to 5.4 ms for an
    owner's 50 to 200 documents, growing with their history. Now the owner's
    documents come from the single-field index on the matched field (the
    total is their number); their sort keys and grouped fields are read in
    place from the stored documents, and only when every one is a plain value
    (plain_comparable: strings, ObjectIds, datetimes of one kind; a group's
    values strings or null). The page itself is read by the engine, with the
    original ``$match`` and ``$sort`` and the chosen ids, so its documents are
    the engine's own. Any other shape, a collation, hint or transaction, a
    TTL index, or a value that is not plain goes the engine's way. Unlike
    MongoDB's one snapshot, the counts and the page are read one after the
    other (a write can land between them); this stand-in serves development
    and tests, where that does not arise.
    """
    import copy

    from mongoeco.api._async.aggregation_cursor import AsyncAggregationCursor
    from mongoeco.core.codec import DocumentCodec
    from mongoeco.engines.memory import MemoryEngine

    materialize = AsyncAggregationCursor._materialize

    async def _materialize(self):
        engine = self._collection._engine
        plan = None
        if (
            isinstance(engine, MemoryEngine)
            and self._collation is None
            and self._hint is None
            and not (self._session is not None and self._session.in_transaction)
            and self._leading_search_stage() is None
        ):
            plan = facet_plan(self._effective_pipeline())
        if plan is None:
            return await materialize(self)
        field, value, sort, facets = plan
        db_name, coll_name = self._collection._db_name, self._collection._collection_name
        async with engine._get_lock(db_name, coll_name):
            coll = engine._storage_view(self._session).get(db_name, {}).get(coll_name, {})
            indexes = engine._indexes_view(self._session).get(db_name, {}).get(coll_name, [])
            index_data = engine._index_data_view(self._session).get(db_name, {}).get(coll_name, {})
            answers = _facet_answers(engine, coll, indexes, index_data, field, value, sort, facets)
        if answers is None:
            return await materialize(self)
        answer = {}
        for name, facet in facets.items():
            if facet[0] != "page":
                answer[name] = answers[name]
                continue
            page = copy.copy(self)
            page._pipeline = [
                {"$match": {"$and": [{field: value}, {"_id": {"$in": answers[name]}}]}},
                {"$sort": dict(sort)},
            ]
            answer[name] = await materialize(page)
        return [DocumentCodec.to_public(answer)]

    AsyncAggregationCursor._materialize = _materialize


def facet_plan(pipeline):
    """(field, value, sort, facets) of ``[$match {field: id}, $sort, $facet]``, else None.

    ``facets`` maps each facet's name to ``("page", skip, limit)``,
    ``("count", name)`` or ``("group", field, name)``; a facet of any other
    shape makes the whole pipeline None.
    """
    stages = [_single(stage) for stage in pipeline]
    if [stage and stage[0] for stage in stages] != ["$match", "$sort", "$facet"]:
        return None
    (_, match), (_, sort), (_, facet) = stages
    if not isinstance(match, dict) or len(match) != 1:
        return None
    ((field, value),) = match.items()
    if field.startswith("$") or "." in field or not _exact_id(value):
        return None
    sort = list(sort.items()) if isinstance(sort, dict) else []
    if not sort or not all(type(d) is int and d in (1, -1) for _f, d in sort):
        return None
    if not isinstance(facet, dict) or not facet:
        return None
    facets = {name: _facet_kind(sub) for name, sub in facet.items()}
    if None in facets.values():
        return None
    return field, value, sort, facets


def _single(stage):
    if isinstance(stage, dict) and len(stage) == 1:
        return next(iter(stage.items()))
    return None


def _facet_kind(stages):
    stages = [_single(stage) for stage in stages] if isinstance(stages, list) else [None]
    if None in stages:
        return None
    ops = [op for op, _spec in stages]
    if ops in (["$skip", "$limit"], ["$limit"]):
        skip = stages[0][1] if ops[0] == "$skip" else 0
        limit = stages[-1][1]
        if type(skip) is int and type(limit) is int and skip >= 0 and limit > 0:
            return ("page", skip, limit)
        return None
    if len(stages) != 1:
        return None
    op, spec = stages[0]
    if op == "$count" and isinstance(spec, str) and spec and not spec.startswith("$"):
        return ("count", spec)
    if op == "$group" and isinstance(spec, dict) and len(spec) == 2 and "_id" in spec:
        group_id = spec["_id"]
        ((name, accumulator),) = [(k, v) for k, v in spec.items() if k != "_id"]
        if (
            isinstance(group_id, str)
            and group_id.startswith("$")
            and not group_id.startswith("$$")
            and "." not in group_id
            and accumulator == {"$sum": 1}
            and type(accumulator["$sum"]) is int
        ):
            return ("group", group_id[1:], name)
    return None


def _facet_answers(engine, coll, indexes, index_data, field, value, sort, facets):
    """Each facet's answer (a page: the ids of its documents, in order), or None.

    The owner's documents come from a single-field index on ``field``. Their
    sort keys and grouped fields are read from the stored documents in place
    (no decoding, no copy), and only when every one is a plain value.
    """
    if any(index.get("expire_after_seconds") is not None for index in indexes):
        return None  # the engine purges expired documents as it scans
    bucket = _equality_bucket(engine, indexes, index_data, field, value)
    if bucket is None:
        return None
    keys = list(bucket)  # iterating the index's persistent set costs about 1 us a key: once
    if not all(key[0] in ("objectid", "str") for key in keys):
        return None
    documents = []
    if any(facet[0] != "count" for facet in facets.values()):
        documents = [engine._borrow_storage_document(coll[key]) for key in keys]
    answers, order = {}, None
    for name, facet in facets.items():
        if facet[0] == "count":
            answers[name] = [{facet[1]: len(keys)}] if keys else []
        elif facet[0] == "group":
            counts = _counts_by(documents, facet[1])
            if counts is None:
                return None
            answers[name] = [{"_id": key, facet[2]: n} for key, n in counts.items()]
        else:
            order = order or _sort_order(keys, documents, sort)
            if order is None:
                return None
            answers[name] = order[facet[1] : facet[1] + facet[2]]
    return answers


def _equality_bucket(engine, indexes, index_data, field, value):
    """The storage keys of the documents whose ``field`` equals ``value``, from its index."""
    for index in indexes:
        if not _plain_index(index) or [name for name, _d in index["key"]] != [field]:
            continue
        index_map = index_data.get(index["name"])
        if index_map is not None:
            return index_map.get((engine._index_equality_key(value),), ())
    return None


def _sort_order(keys, documents, sort):
    """The _ids of these documents in ``sort`` order, or None when a sort key is not plain."""
    columns = []
    for name, _direction in sort:
        column = [document.get(name, _MISSING) for document in documents]
        if column and not all(map(plain_comparable, repeat(column[0]), column)):
            return None  # missing, mixed or not plain: the engine's own comparison
        if column and isinstance(column[0], ObjectId):
            column = [value.binary for value in column]  # compared in C, as their 12 bytes
        columns.append(column)
    order = list(range(len(documents)))
    # Stable sorts from the last sort key to the first: the sort's order.
    for column, (_name, direction) in reversed(list(zip(columns, sort, strict=True))):
        order.sort(key=column.__getitem__, reverse=direction < 0)
    return [keys[i][1] for i in order]


def _counts_by(documents, field) -> dict | None:
    """{value: how many documents have it} when every value is a string or null (or missing)."""
    values = [document.get(field) for document in documents]
    if not all(value is None or type(value) is str for value in values):
        return None  # numbers group across types, and so on: the engine's way
    return Counter(values)


def _install_sqlite_text_count_fix() -> None:
    """The SQLite engine's ``count`` ignores a ``$text`` condition.

    It counts every document matching the rest of the filter, so a catalog
    search shows a wrong total. ``find`` applies ``$text`` correctly, so a
    count with a text query is answered by counting what find returns.
    """
    from mongoeco.engines.sqlite import SQLiteEngine

    original = SQLiteEngine.count_find_semantics

    async def count_find_semantics(
        self, db_name, coll_name, semantics, *, context=None, operation_context=None
    ):
        if getattr(semantics, "text_query", None) is None:
            return await original(
                self,
                db_name,
                coll_name,
                semantics,
                context=context,
                operation_context=operation_context,
            )
        session = operation_context.session if operation_context is not None else context
        count = 0
        async for _ in self.scan_find_semantics(db_name, coll_name, semantics, context=session):
            count += 1
        return count

    SQLiteEngine.count_find_semantics = count_find_semantics


_FIELD_SPEC_STAGES = {"$project", "$addFields", "$set"}


def _is_embedded_document_spec(value) -> bool:
    # {"title": 1} or {"title": "$products.title"}: a document of fields, not
    # an operator expression such as {"$literal": ...} or {"$cond": ...}.
    return (
        isinstance(value, dict)
        and bool(value)
        and not any(isinstance(key, str) and key.startswith("$") for key in value)
    )


def _flatten_field_spec(spec: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in spec.items():
        path = f"{prefix}{key}"
        if _is_embedded_document_spec(value):
            flat.update(_flatten_field_spec(value, prefix=f"{path}."))
        else:
            flat[path] = value
    return flat


def flatten_pipeline(pipeline: list) -> list:
    """Rewrite nested field documents in $project/$addFields/$set as dotted paths.

    ``{"$project": {"a": {"b": 1}}}`` and ``{"$project": {"a.b": 1}}`` mean the
    same to MongoDB, as do ``{"$addFields": {"a": {"b": "$x"}}}`` and
    ``{"$addFields": {"a.b": "$x"}}``; the stand-in understands only the dotted
    form. Nested pipelines ($lookup, $facet, $unionWith) are rewritten too.
    """
    rewritten = []
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            rewritten.append(stage)
            continue
        ((operator, spec),) = stage.items()
        if operator in _FIELD_SPEC_STAGES and isinstance(spec, dict):
            spec = _flatten_field_spec(spec)
        elif (
            operator in ("$lookup", "$unionWith")
            and isinstance(spec, dict)
            and isinstance(spec.get("pipeline"), list)
        ):
            spec = {**spec, "pipeline": flatten_pipeline(spec["pipeline"])}
        elif operator == "$facet" and isinstance(spec, dict):
            spec = {
                name: flatten_pipeline(sub) if isinstance(sub, list) else sub
                for name, sub in spec.items()
            }
        rewritten.append({operator: spec})
    return rewritten


def _install_nested_projection_fix() -> None:
    """Gap 3: nested documents in $project/$addFields are taken as literals.

    django-mongodb-backend emits the nested form for values() across a foreign
    key and for select_related() with ordering; the wire executor rewrites
    every aggregate command's pipeline before the stand-in prepares it.
    """
    from mongoeco.wire.executor import WireCommandExecutor

    original = WireCommandExecutor._build_request_context

    def _build_request_context(self, body, **kwargs):
        if (
            isinstance(body, dict)
            and "aggregate" in body
            and isinstance(body.get("pipeline"), list)
        ):
            # Same key order: the command name must stay the first key.
            body = {
                key: (flatten_pipeline(value) if key == "pipeline" else value)
                for key, value in body.items()
            }
        return original(self, body, **kwargs)

    WireCommandExecutor._build_request_context = _build_request_context


def serve(engine: str, port: int, path: str | None, parent_pid: int | None = None) -> int:
    import asyncio

    if engine == "sqlite":
        if path is None:
            print("--path is required for the sqlite engine", file=sys.stderr)
            return 2
        problem = _sqlite_problem(Path(path))
        if problem:
            print(f"corrupt data file {path}: {problem}", file=sys.stderr)
            return EXIT_CORRUPT

    install_accommodations()

    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    async def main() -> None:
        storage = MemoryEngine() if engine == "memory" else SQLiteEngine(path)
        server = AsyncMongoEcoProxyServer(engine=storage, host="127.0.0.1", port=port)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await server.start()
        print(f"embedded MongoDB ({engine}) listening on 127.0.0.1:{port}", flush=True)
        watcher = asyncio.create_task(_watch_parent(parent_pid, stopping)) if parent_pid else None
        try:
            await stopping.wait()
        finally:
            if watcher is not None:
                watcher.cancel()
            await server.close()

    asyncio.run(main())
    return 0


async def _watch_parent(parent_pid: int, stopping) -> None:
    import asyncio

    while not stopping.is_set():
        if os.getppid() != parent_pid:
            stopping.set()
            return
        await asyncio.sleep(1)


def _sqlite_problem(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if row is None or row[0] != "ok":
        return str(row[0] if row else "quick_check returned nothing")
    return None


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m referral_site.embedded")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="run the server in the foreground")
    serve_parser.add_argument("--engine", choices=("memory", "sqlite"), required=True)
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--path")
    serve_parser.add_argument("--parent-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)
    return serve(args.engine, args.port, args.path, args.parent_pid)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
