"""Index report: every index of the application's collections, its use, size and reason.

An index is *needed* when the application declares it (a model's field
index, unique field, Meta.indexes or constraint: what the migrations create,
and what schema.md lists), when it enforces something by itself (unique,
TTL), or when an explained query of a page uses it. *Missing* is a declared
key pattern the server does not have. *Unused* is an index the server has
counted no operation on since it started, that enforces nothing.

Usage counts come from ``$indexStats`` (per server process, since its start:
a fresh restart says little), sizes from ``collStats``. The embedded
stand-in keeps no usage counts and no per-index sizes; what cannot be known
there is reported as unknown, not guessed.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from pymongo.database import Database
from pymongo.errors import OperationFailure

GRIDFS_COLLECTIONS = ("fs.files", "fs.chunks")
Key = tuple[tuple[str, object], ...]


@dataclass
class IndexInfo:
    collection: str
    name: str
    key: Key
    unique: bool = False
    ttl: bool = False
    ops: int | None = None  # None: unknown
    since: datetime | None = None
    size_bytes: int | None = None
    needed_by: list[str] = field(default_factory=list)
    partial: bool = False
    prefix_of: str = ""  # another index whose key starts with this one's (it can serve it)

    @property
    def enforces(self) -> str:
        if self.name == "_id_":
            return "_id"
        if self.ttl:
            return "TTL expiry"
        if self.unique:
            return "uniqueness"
        return ""

    @property
    def unused(self) -> bool:
        return self.ops == 0 and not self.enforces and not self.needed_by


@dataclass
class Declared:
    collection: str
    key: Key
    reason: str  # "purchases.Purchase Meta.indexes purchases_user_card"


@dataclass
class IndexReport:
    indexes: list[IndexInfo]
    missing: list[Declared]
    usage_known: bool
    sizes_known: bool


def key_of(spec: dict) -> Key:
    """A listIndexes key as a comparable tuple; a text index as its text fields."""
    key = spec.get("key") or {}
    if "_fts" in key:
        others = [(f, d) for f, d in key.items() if f not in ("_fts", "_ftsx")]
        return tuple(others + [(f, "text") for f in (spec.get("weights") or {})])
    return tuple((f, d if isinstance(d, str) else int(d)) for f, d in key.items())


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


def declared_indexes() -> list[Declared]:
    """The key patterns the application's models declare, per collection."""
    declared: list[Declared] = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        label = meta.label
        for f in meta.local_concrete_fields:
            if f.primary_key:
                continue
            if f.unique or f.db_index:
                kind = "unique field" if f.unique else "field index"
                declared.append(
                    Declared(meta.db_table, ((f.column, 1),), f"{label}.{f.name} {kind}")
                )
        for index in meta.indexes:
            if not index.fields:
                continue
            direction = "text" if "Text" in type(index).__name__ else None
            key = tuple(
                (_column(model, name), direction or (-1 if order == "DESC" else 1))
                for name, order in index.fields_orders
            )
            declared.append(Declared(meta.db_table, key, f"{label} index {index.name}"))
        for constraint in meta.constraints:
            fields = getattr(constraint, "fields", ())
            if fields:
                key = tuple((_column(model, name), 1) for name in fields)
                declared.append(
                    Declared(meta.db_table, key, f"{label} constraint {constraint.name}")
                )
        for together in meta.unique_together:
            key = tuple((_column(model, name), 1) for name in together)
            declared.append(Declared(meta.db_table, key, f"{label} unique_together"))
    return declared


def application_collections() -> list[str]:
    tables = {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    }
    return sorted(tables | set(GRIDFS_COLLECTIONS))


def _index_stats(db: Database, collection: str) -> dict[str, dict]:
    try:
        return {
            row["name"]: row.get("accesses") or {}
            for row in db[collection].aggregate([{"$indexStats": {}}])
        }
    except OperationFailure:
        return {}


def _index_sizes(db: Database, collection: str) -> dict[str, int]:
    try:
        stats = db.command("collStats", collection)
    except OperationFailure:
        return {}
    sizes = stats.get("indexSizes")
    return {name: int(size) for name, size in sizes.items()} if isinstance(sizes, dict) else {}


def index_report(
    db: Database, *, usage_known: bool, used_by: dict[tuple[str, str], list[str]]
) -> IndexReport:
    """``used_by``: (collection, index name) -> the page queries whose plans use it."""
    declared = declared_indexes()
    existing = set(db.list_collection_names())
    infos: list[IndexInfo] = []
    missing: list[Declared] = []
    sizes_known = False
    for collection in application_collections():
        specs = list(db[collection].list_indexes()) if collection in existing else []
        stats = _index_stats(db, collection) if specs else {}
        sizes = _index_sizes(db, collection) if specs else {}
        sizes_known = sizes_known or bool(sizes)
        keys = {}
        for spec in specs:
            info = IndexInfo(
                collection=collection,
                name=spec["name"],
                key=key_of(spec),
                unique=bool(spec.get("unique")),
                ttl="expireAfterSeconds" in spec,
                partial="partialFilterExpression" in spec,
                size_bytes=sizes.get(spec["name"]),
            )
            accesses = stats.get(spec["name"], {})
            if usage_known and "ops" in accesses:
                info.ops = int(accesses["ops"])
                info.since = accesses.get("since")
            if collection in GRIDFS_COLLECTIONS and info.name != "_id_":
                info.needed_by.append("GridFS (product files)")
            info.needed_by.extend(used_by.get((collection, info.name), []))
            infos.append(info)
            keys.setdefault(info.key, info)
        here = [i for i in infos if i.collection == collection]
        for info in here:
            if info.enforces or info.partial:
                continue
            longer = [
                other
                for other in here
                if not other.partial
                and len(other.key) > len(info.key)
                and other.key[: len(info.key)] == info.key
            ]
            if longer:
                info.prefix_of = longer[0].name
        for wanted in (d for d in declared if d.collection == collection):
            match = keys.get(wanted.key)
            if match is None:
                missing.append(wanted)
            elif wanted.reason not in match.needed_by:
                match.needed_by.insert(0, wanted.reason)
    return IndexReport(
        indexes=infos, missing=missing, usage_known=usage_known, sizes_known=sizes_known
    )
