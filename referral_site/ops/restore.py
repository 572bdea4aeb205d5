"""Restore a backup made by ops/backup.py.

Order, so that a damaged backup or a wrong target changes nothing:

1. read the manifest and check every file's SHA-256 and line count;
2. refuse a target database that already holds documents, unless forced;
3. per collection: drop it if present, create it with its options, insert
   the documents in ordered batches;
4. check every collection's count against the manifest;
5. create the indexes, in their original order.

Indexes come after the data, as mongorestore does them: building an index
once over loaded data is cheaper than maintaining it on every insert, and a
TTL index created before the count check could let MongoDB's TTL monitor
delete expired documents (old rate-limit windows) in the middle of a restore.
The checksums already guarantee the data is what the source held, so the
unique indexes cannot fail on it.

Stop the site while restoring: between steps 3 and 5 the unique indexes that
keep credits exactly-once do not exist yet.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from django.db.migrations.loader import MigrationLoader
from pymongo import IndexModel
from pymongo.database import Database
from pymongo.errors import PyMongoError

from referral_site.ops import BATCH_SIZE, OperationError, is_system_collection, one_line
from referral_site.ops.backup import FORMAT, FORMAT_VERSION, MANIFEST, loads
from referral_site.ops.progress import Progress

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Index version fields: the target server picks its own current versions (and
# the embedded server rejects textIndexVersion).
_NOT_INDEX_OPTIONS = {"v", "ns", "key", "textIndexVersion", "2dsphereIndexVersion"}


@dataclass(frozen=True)
class CollectionBackup:
    name: str
    documents: int
    file: Path
    sha256: str
    metadata_file: Path
    metadata_sha256: str


@dataclass
class RestoreResult:
    manifest: dict
    collections: list[CollectionBackup]
    replaced: list[str]

    @property
    def documents(self) -> int:
        return sum(entry.documents for entry in self.collections)


def read_manifest(directory: Path) -> tuple[dict, list[CollectionBackup]]:
    if not directory.is_dir():
        raise OperationError(f"{directory} is not a directory")
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OperationError(f"{directory} has no {MANIFEST}; is it a backup?") from None
    except (OSError, ValueError) as exc:
        raise OperationError(f"{MANIFEST} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise OperationError(f"{MANIFEST} is not a {FORMAT} manifest")
    if manifest.get("formatVersion") != FORMAT_VERSION:
        raise OperationError(
            f"{MANIFEST} has format version {manifest.get('formatVersion')!r}; "
            f"this code reads version {FORMAT_VERSION}"
        )
    entries = manifest.get("collections")
    if not isinstance(entries, list):
        raise OperationError(f"{MANIFEST} lists no collections")
    collections, seen = [], set()
    for entry in entries:
        collections.append(_entry(directory, entry))
        if collections[-1].name in seen:
            raise OperationError(f"{MANIFEST} lists collection {collections[-1].name} twice")
        seen.add(collections[-1].name)
    return manifest, collections


def _entry(directory: Path, entry) -> CollectionBackup:
    try:
        name, documents = entry["name"], entry["documents"]
        files = entry["file"], entry["metadataFile"]
        sums = entry["sha256"], entry["metadataSha256"]
    except (KeyError, TypeError):
        raise OperationError(f"{MANIFEST} has an incomplete collection entry") from None
    valid = (
        isinstance(name, str)
        and name
        and not is_system_collection(name)
        and isinstance(documents, int)
        and not isinstance(documents, bool)
        and documents >= 0
        and all(_plain_file_name(file) for file in files)
        and all(isinstance(digest, str) and _SHA256.fullmatch(digest) for digest in sums)
    )
    if not valid:
        raise OperationError(f"{MANIFEST} has an invalid entry for collection {name!r}")
    return CollectionBackup(
        name=name,
        documents=documents,
        file=directory / files[0],
        sha256=sums[0],
        metadata_file=directory / files[1],
        metadata_sha256=sums[1],
    )


def _plain_file_name(value) -> bool:
    # Inside the backup directory only: no paths, no "..".
    return (
        isinstance(value, str)
        and value not in ("", ".", "..")
        and "/" not in value
        and "\\" not in value
        and "\0" not in value
    )


def verify_files(collections: list[CollectionBackup]) -> None:
    """Every file present, unchanged, and holding as many documents as listed."""
    for entry in collections:
        digest, lines = _digest(entry.file)
        if digest != entry.sha256:
            raise OperationError(
                f"checksum mismatch in {entry.file.name}: the backup is "
                f"damaged or was edited; nothing was restored"
            )
        if lines != entry.documents:
            raise OperationError(
                f"{entry.file.name} holds {lines} documents, the manifest "
                f"says {entry.documents}; nothing was restored"
            )
        if _digest(entry.metadata_file)[0] != entry.metadata_sha256:
            raise OperationError(
                f"checksum mismatch in {entry.metadata_file.name}: the backup "
                f"is damaged or was edited; nothing was restored"
            )


def _digest(path: Path) -> tuple[str, int]:
    digest, lines = hashlib.sha256(), 0
    try:
        with path.open("rb") as source:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                lines += chunk.count(b"\n")
    except FileNotFoundError:
        raise OperationError(
            f"{path.name} is missing from the backup; nothing was restored"
        ) from None
    return digest.hexdigest(), lines


def collections_with_documents(db: Database) -> list[str]:
    return sorted(
        name
        for name in db.list_collection_names()
        if not is_system_collection(name)
        and db[name].find_one({}, projection={"_id": 1}) is not None
    )


def index_model(spec: dict) -> IndexModel:
    """An IndexModel that recreates an index as ``listIndexes`` described it.

    Real MongoDB reports a text index's key as ``{"_fts": "text", "_ftsx": 1}``
    with the fields in ``weights``; the embedded server reports
    ``{"title": "text"}``. Both come back as the same index.
    """
    keys = []
    for field, direction in spec["key"].items():
        if field == "_fts":
            keys.extend((text_field, "text") for text_field in spec.get("weights", {}))
        elif field != "_ftsx":
            keys.append((field, direction))
    options = {key: value for key, value in spec.items() if key not in _NOT_INDEX_OPTIONS}
    return IndexModel(keys, **options)


def restore_database(
    db: Database,
    directory: Path,
    *,
    force: bool = False,
    show_progress: bool = False,
    only: str | None = None,
) -> RestoreResult:
    """Restore the backup, or with ``only`` just that collection (its documents and
    indexes); every other collection of the database is left as it is."""
    manifest, collections = read_manifest(directory)
    if only is not None:
        collections = [entry for entry in collections if entry.name == only]
        if not collections:
            raise OperationError(
                f"the backup in {directory} has no collection {only!r}; nothing was restored"
            )
    verify_files(collections)
    metadata = {entry.name: _metadata(entry) for entry in collections}
    # Every line of every file must parse before anything is dropped or written.
    for entry in collections:
        _check_documents(entry)

    occupied = collections_with_documents(db)
    if only is not None:
        occupied = [name for name in occupied if name == only]
        if occupied and not force:
            raise OperationError(
                f"collection {only!r} of database {db.name!r} already holds documents "
                f"({only}); pass --force to replace it (no other collection is touched)"
            )
    if occupied and not force:
        shown = ", ".join(occupied[:5]) + (
            f" and {len(occupied) - 5} more" if len(occupied) > 5 else ""
        )
        raise OperationError(
            f"database {db.name!r} already holds documents ({shown}); restore "
            f"into an empty database, or pass --force to replace the "
            f"{len(collections)} collections of the backup"
        )

    existing = set(db.list_collection_names())
    replaced = []
    step = "starting"
    try:
        with Progress(enabled=show_progress) as bars:
            for entry in collections:
                step = f"loading {entry.name}"
                if entry.name in existing:
                    db.drop_collection(entry.name)
                    replaced.append(entry.name)
                db.create_collection(entry.name, **metadata[entry.name].get("options", {}))
                _load(db, entry, bars.task(entry.name, entry.documents))

        step = "counting documents"
        for entry in collections:
            count = db[entry.name].count_documents({})
            if count != entry.documents:
                raise OperationError(
                    f"collection {entry.name} has {count} documents after "
                    f"loading, the backup {entry.documents}; the database is "
                    f"partly restored: run restore again with --force"
                )
        for entry in collections:
            step = f"indexing {entry.name}"
            models = [
                index_model(spec)
                for spec in metadata[entry.name].get("indexes", [])
                if spec.get("name") != "_id_"
            ]
            if models:
                db[entry.name].create_indexes(models)
    except PyMongoError as exc:
        raise OperationError(
            f"restore failed while {step}: {one_line(exc)}; the database is "
            f"partly restored: fix the cause and run restore again with "
            f"--force"
        ) from exc
    return RestoreResult(manifest=manifest, collections=collections, replaced=replaced)


def schema_differences(manifest: dict) -> list[str]:
    """Apps whose latest migration in the backup is not this code's latest."""
    code: dict[str, set[str]] = {}
    for app, name in MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes():
        code.setdefault(app, set()).add(name)
    backup = manifest.get("schemaVersion") or {}
    return [
        f"{app}: backup {backup[app]}, code {', '.join(sorted(code[app]))}"
        for app in sorted(backup)
        if app in code and backup[app] not in code[app]
    ]


def _metadata(entry: CollectionBackup) -> dict:
    try:
        metadata = loads(entry.metadata_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise OperationError(f"{entry.metadata_file.name} cannot be read: {exc}") from None
    if not isinstance(metadata, dict):
        raise OperationError(f"{entry.metadata_file.name} is not a metadata document")
    return metadata


def _check_documents(entry: CollectionBackup) -> None:
    """Read every line of the collection's file as a document (streaming), count them."""
    count = 0
    with entry.file.open("rb") as source:
        for number, line in enumerate(source, start=1):
            try:
                document = loads(line)
            except (ValueError, TypeError) as exc:
                raise OperationError(
                    f"{entry.file.name} line {number} is not a document ({one_line(exc)}); "
                    f"nothing was restored"
                ) from None
            if not isinstance(document, dict):
                raise OperationError(
                    f"{entry.file.name} line {number} is not a document; nothing was restored"
                )
            count += 1
    if count != entry.documents:
        raise OperationError(
            f"{entry.file.name} holds {count} documents, the manifest {entry.documents}; "
            f"nothing was restored"
        )


def _load(db: Database, entry: CollectionBackup, advance) -> None:
    target = db[entry.name]
    batch = []
    with entry.file.open("rb") as source:
        for line in source:
            batch.append(loads(line))
            if len(batch) == BATCH_SIZE:
                _insert(target, batch)
                advance(len(batch))
                batch = []
    if batch:
        _insert(target, batch)
        advance(len(batch))


def _insert(target, batch: list[dict]) -> None:
    # The documents passed their collection's validator when first written;
    # a validator tightened since must not make a backup unrestorable.
    target.insert_many(batch, ordered=True, bypass_document_validation=True)
