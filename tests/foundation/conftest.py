import pytest
from pymongo import MongoClient

from referral_site import embedded


@pytest.fixture(params=["memory", "sqlite"])
def engine_client(request, tmp_path):
    """A client of a fresh embedded server of each engine (SQLite is the one `make run` uses)."""
    if request.param == "memory":
        server = embedded.start_ephemeral()
        uri, stop = server.uri, server.stop
    else:
        uri = embedded.ensure_running(tmp_path, port=embedded.free_port())
        stop = lambda: embedded.stop(tmp_path)  # noqa: E731
    client = MongoClient(uri)
    yield client
    client.close()
    stop()
