"""GridFS on both engines of the embedded server: what the product files rely on."""

import hashlib
import io
import os

import pytest
from gridfs import GridFSBucket


@pytest.fixture
def database(engine_client):
    return engine_client.shop


def test_a_file_goes_in_and_comes_out_whole_in_small_batches(database):
    data = os.urandom(3 * 255 * 1024 + 17)
    file_id = GridFSBucket(database).upload_from_stream(
        "book.pdf", io.BytesIO(data), metadata={"contentType": "application/pdf"}
    )

    # As referral_site.storage reads it: from a chunk on, a few chunks per batch.
    chunks = (
        database["fs.chunks"]
        .find({"files_id": file_id, "n": {"$gte": 1}}, sort=[("n", 1)])
        .batch_size(2)
    )
    tail = b"".join(bytes(chunk["data"]) for chunk in chunks)

    stored = database["fs.files"].find_one({"_id": file_id})
    assert stored["length"] == len(data) and stored["metadata"]["contentType"] == "application/pdf"
    assert tail == data[255 * 1024 :]
    assert (
        hashlib.sha256(GridFSBucket(database).open_download_stream(file_id).read()).digest()
        == hashlib.sha256(data).digest()
    )


def test_deleting_a_file_removes_its_chunks(database):
    bucket = GridFSBucket(database)
    file_id = bucket.upload_from_stream("a.txt", io.BytesIO(b"x" * 600_000))

    bucket.delete(file_id)

    assert database["fs.files"].count_documents({}) == 0
    assert database["fs.chunks"].count_documents({}) == 0
