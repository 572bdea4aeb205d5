"""Files in MongoDB GridFS through Django's storage API.

One database holds everything: backups, restores, GDPR exports and the
replica set cover the shop's files too. Stored in the application's
database with pymongo's GridFSBucket (collections ``fs.files`` and
``fs.chunks``), streamed in chunks both ways: a file is never held whole in
memory. A stored name is ``<GridFS id>/<original file name>``, unique by
construction, so nothing is ever overwritten.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from bson import ObjectId
from bson.errors import InvalidId
from django.core.files import File
from django.core.files.storage import Storage
from django.db import connection
from django.utils.deconstruct import deconstructible
from gridfs import GridFSBucket, NoFile

CHUNK_BYTES = 255 * 1024  # GridFS's default chunk size


def _bucket() -> GridFSBucket:
    connection.ensure_connection()
    return GridFSBucket(connection.database)


def _file_id(name: str) -> ObjectId | None:
    try:
        return ObjectId(PurePosixPath(name).parts[0])
    except (InvalidId, IndexError, TypeError):
        return None


class GridFSFile(File):
    """A stored file, read a few chunks at a time from GridFS; ``seek`` for ranges.

    pymongo's own GridOut reads chunks with a cursor whose first batch may
    hold 16 MB; this reader asks for BATCH_CHUNKS chunks per round trip, so
    memory stays at about one megabyte whatever the file's size.
    """

    BATCH_CHUNKS = 4

    def __init__(self, document: dict, name: str):
        super().__init__(None, name=name)
        self._id = document["_id"]
        self._length = int(document["length"])
        self._chunk_size = int(document["chunkSize"])
        self.content_type = (document.get("metadata") or {}).get("contentType") or ""
        self._position = 0
        self._cursor = None
        self._buffer = b""

    @property
    def size(self) -> int:
        return self._length

    def seek(self, position: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._length}[whence]
        self._position = max(0, min(self._length, base + position))
        self._close_cursor()
        self._buffer = b""
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._length - self._position
        size = min(size, self._length - self._position)
        while len(self._buffer) < size:
            chunk = self._next_chunk()
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        self._position += len(data)
        return data

    def _next_chunk(self) -> bytes | None:
        if self._cursor is None:
            first = self._position // self._chunk_size
            self._skip = self._position - first * self._chunk_size
            self._cursor = (
                connection.database["fs.chunks"]
                .find({"files_id": self._id, "n": {"$gte": first}}, sort=[("n", 1)])
                .batch_size(self.BATCH_CHUNKS)
            )
        document = next(self._cursor, None)
        if document is None:
            return None
        data = bytes(document["data"])
        if self._skip:
            data, self._skip = data[self._skip :], 0
        return data

    def _close_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def close(self) -> None:
        self._close_cursor()

    @property
    def closed(self) -> bool:
        return self._cursor is None

    def chunks(self, chunk_size=None):
        self.seek(0)
        while data := self.read(chunk_size or CHUNK_BYTES):
            yield data


@deconstructible
class GridFSStorage(Storage):
    def _save(self, name: str, content) -> str:
        file_name = PurePosixPath(name).name or "file"
        content_type = (
            getattr(content, "content_type", None)
            or mimetypes.guess_type(file_name)[0]
            or "application/octet-stream"
        )
        if hasattr(content, "seek"):
            content.seek(0)
        file_id = _bucket().upload_from_stream(
            file_name,
            _Chunks(content),
            chunk_size_bytes=CHUNK_BYTES,
            metadata={"contentType": content_type},
        )
        return f"{file_id}/{file_name}"

    def _open(self, name: str, mode: str = "rb") -> GridFSFile:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("GridFS files are written with save(), not opened for writing")
        file_id = _file_id(name)
        connection.ensure_connection()
        document = connection.database["fs.files"].find_one({"_id": file_id}) if file_id else None
        if document is None:
            raise FileNotFoundError(name)
        return GridFSFile(document, name)

    def exists(self, name: str) -> bool:
        file_id = _file_id(name)
        return file_id is not None and bool(
            connection.database["fs.files"].count_documents({"_id": file_id}, limit=1)
        )

    def delete(self, name: str) -> None:
        file_id = _file_id(name)
        if file_id is not None:
            try:
                _bucket().delete(file_id)
            except NoFile:
                pass

    def size(self, name: str) -> int:
        return self._open(name).size

    def url(self, name: str) -> str:
        # Served by views that check who may have it (downloads, covers), never directly.
        raise NotImplementedError("GridFS files are served by the site's own views")

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # _save makes the name unique (the GridFS id)


class _Chunks:
    """A readable view of an upload that hands GridFS one chunk at a time."""

    def __init__(self, content):
        self._chunks = content.chunks(CHUNK_BYTES) if hasattr(content, "chunks") else None
        self._content = content
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if self._chunks is None:
            return self._content.read(size)
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
