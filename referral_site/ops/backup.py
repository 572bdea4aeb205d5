"""Backup of the whole database as Extended JSON lines, and the backup format.

A backup is a directory:

* ``<collection>.jsonl``: one document per line, canonical Extended JSON
  (``bson.json_util`` with ``CANONICAL_JSON_OPTIONS``), so Decimal128, ObjectId,
  Int64, doubles and datetimes come back exactly as they were;
* ``<collection>.metadata.json``: the collection's options and its index
  definitions as ``listIndexes`` reported them (like mongodump's file of the
  same name);
* ``manifest.json``: when, from which database, at which schema version (the
  latest applied migration per app), and per collection its document count
  and the SHA-256 of both files. Written last.

The directory appears complete or not at all (ops/files.py). A backup is not
a point-in-time snapshot across collections: collections are read one after
the other, so stop writes (or use the deployment's own snapshots, schema.md
"Backup and Recovery") when an exact cross-collection picture matters.
"""

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pymongo.database import Database

from referral_site.ops import BATCH_SIZE, is_system_collection
from referral_site.ops.files import atomic_directory
from referral_site.ops.progress import Progress

FORMAT = "referral-store-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    skipped: list[str] = field(default_factory=list)  # views and other non-collections

    @property
    def documents(self) -> int:
        return sum(entry["documents"] for entry in self.manifest["collections"])


def file_stem(collection: str) -> str:
    """A file name for a collection: the name itself, percent-escaped if it must be."""
    return quote(collection, safe="")


def dumps(value) -> str:
    return json_util.dumps(value, json_options=CANONICAL_JSON_OPTIONS)


def loads(text: str | bytes):
    return json_util.loads(text, json_options=CANONICAL_JSON_OPTIONS)


def schema_version(db: Database) -> dict[str, str]:
    """The latest applied migration of each app, from django_migrations."""
    latest: dict[str, str] = {}
    for row in db["django_migrations"].find({}, {"app": 1, "name": 1, "_id": 0}):
        app, name = row.get("app"), row.get("name")
        if isinstance(app, str) and isinstance(name, str) and name > latest.get(app, ""):
            latest[app] = name  # numbered names ("0002_...") sort in order
    return dict(sorted(latest.items()))


def backup_database(
    db: Database, destination: Path, *, show_progress: bool = False
) -> BackupResult:
    """Write every collection of ``db`` to the new directory ``destination``."""
    collections, skipped = [], []
    for info in db.list_collections():
        name = info["name"]
        if is_system_collection(name):
            continue
        if info.get("type", "collection") != "collection":
            skipped.append(name)  # a view's documents belong to its source collection
            continue
        collections.append((name, info.get("options", {})))
    collections.sort()

    with atomic_directory(destination) as work, Progress(enabled=show_progress) as bars:
        entries = []
        for name, options in collections:
            stem = file_stem(name)
            count, data_sha = _write_documents(
                db,
                name,
                work / f"{stem}.jsonl",
                bars.task(name, db[name].estimated_document_count() if show_progress else None),
            )
            metadata = {
                "collection": name,
                "options": options,
                # "ns" names the source database; the backup must not care.
                "indexes": [
                    {key: value for key, value in index.items() if key != "ns"}
                    for index in db[name].list_indexes()
                ],
            }
            metadata_sha = _write_file(
                work / f"{stem}.metadata.json", (dumps(metadata) + "\n").encode()
            )
            entries.append(
                {
                    "name": name,
                    "documents": count,
                    "file": f"{stem}.jsonl",
                    "sha256": data_sha,
                    "metadataFile": f"{stem}.metadata.json",
                    "metadataSha256": metadata_sha,
                }
            )
        manifest = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "createdAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "database": db.name,
            "schemaVersion": schema_version(db),
            "collections": entries,
        }
        _write_file(work / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return BackupResult(path=destination, manifest=manifest, skipped=skipped)


def _write_documents(db: Database, name: str, path: Path, advance) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    with path.open("wb") as out:
        # _id order: deterministic files, and real MongoDB walks the _id index
        # instead of sorting in memory.
        for document in db[name].find({}, sort=[("_id", 1)], batch_size=BATCH_SIZE):
            line = (dumps(document) + "\n").encode()
            digest.update(line)
            out.write(line)
            count += 1
            advance(1)
        out.flush()
        _fsync(out)
    return count, digest.hexdigest()


def _write_file(path: Path, data: bytes) -> str:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        _fsync(out)
    return hashlib.sha256(data).hexdigest()


def _fsync(handle) -> None:
    os.fsync(handle.fileno())


# --------------------------------------------------------------------------
# Retention: `backup --keep-days N`
# --------------------------------------------------------------------------


@dataclass
class PrunedBackup:
    path: Path
    created_at: datetime


def backups_made_here(root: Path, database: str) -> list[PrunedBackup]:
    """The backups of ``database`` directly under ``root``: directories whose manifest
    says this command wrote them. Anything else (other files, other databases,
    unfinished ``.partial`` directories, unreadable manifests) is not ours to touch."""
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if not path.is_dir() or path.is_symlink() or path.name.startswith("."):
            continue
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            created = datetime.fromisoformat(manifest["createdAt"].replace("Z", "+00:00"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if (
            isinstance(manifest, dict)
            and manifest.get("format") == FORMAT
            and manifest.get("database") == database
            and created.tzinfo is not None
        ):
            found.append(PrunedBackup(path=path, created_at=created))
    return found


def prune_backups(*, keep: Path, database: str, keep_days: int, now: datetime) -> list[Path]:
    """Remove the backups of ``database`` next to ``keep`` older than ``keep_days``.

    Called only after ``keep`` (the new backup) was written and verified, so
    there is always at least one good backup left.
    """
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for backup in backups_made_here(keep.parent, database):
        if backup.path.resolve() == keep.resolve() or backup.created_at >= cutoff:
            continue
        shutil.rmtree(backup.path)
        removed.append(backup.path)
    return removed
