"""The embedded server's life cycle: start, reuse, stop, and the one-line errors."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from referral_site import embedded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path):
    yield tmp_path
    embedded.stop(tmp_path)


def test_ensure_running_starts_a_sqlite_server_that_keeps_data_across_restarts(data_dir):
    port = embedded.free_port()

    uri = embedded.ensure_running(data_dir, port=port)
    with MongoClient(uri) as client:
        client.shop.things.insert_one({"name": "kept"})
    embedded.stop(data_dir)
    assert not embedded.ping(port)

    uri = embedded.ensure_running(data_dir, port=port)
    with MongoClient(uri) as client:
        assert client.shop.things.find_one({"name": "kept"})["name"] == "kept"


def test_a_running_server_is_reused_not_started_twice(data_dir):
    port = embedded.free_port()
    embedded.ensure_running(data_dir, port=port)
    first, _ = embedded.status(data_dir)

    embedded.ensure_running(data_dir, port=port)
    second, answering = embedded.status(data_dir)

    assert answering
    assert first.pid == second.pid


def test_stop_ends_the_process_and_forgets_it(data_dir):
    port = embedded.free_port()
    embedded.ensure_running(data_dir, port=port)
    handle, _ = embedded.status(data_dir)

    stopped = embedded.stop(data_dir)

    assert stopped.pid == handle.pid
    assert embedded.status(data_dir) == (None, False)
    assert not embedded.ping(port)
    assert embedded.stop(data_dir) is None


def test_a_port_taken_by_another_program_is_a_clear_error(data_dir):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        with pytest.raises(embedded.EmbeddedServerError, match=f"port {port} is in use"):
            embedded.ensure_running(data_dir, port=port)


def test_a_crashed_server_is_replaced_on_next_use(data_dir):
    port = embedded.free_port()
    uri = embedded.ensure_running(data_dir, port=port)
    with MongoClient(uri) as client:
        client.shop.things.insert_one({"name": "survives a crash"})
    handle, _ = embedded.status(data_dir)
    os.kill(handle.pid, signal.SIGKILL)

    uri = embedded.ensure_running(data_dir, port=port)

    replacement, answering = embedded.status(data_dir)
    assert answering and replacement.pid != handle.pid
    with MongoClient(uri) as client:
        assert client.shop.things.count_documents({"name": "survives a crash"}) == 1


def test_a_corrupt_data_file_is_a_clear_error(data_dir):
    (data_dir / "mongo.sqlite3").write_bytes(b"this is not a database" * 100)

    with pytest.raises(embedded.EmbeddedServerError, match="is corrupt; move it away"):
        embedded.ensure_running(data_dir, port=embedded.free_port())


def test_manage_py_reports_a_port_in_use_in_one_line(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {
            **os.environ,
            "EMBEDDED_MONGODB_PORT": str(port),
            "EMBEDDED_MONGODB_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "referral_site.settings.local",
        }
        env.pop("MONGODB_URI", None)

        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port {port} is in use by another program; stop it or set "
        f"EMBEDDED_MONGODB_PORT to a free port"
    )


def test_ephemeral_memory_server_starts_and_stops():
    server = embedded.start_ephemeral()
    port = server.handle.port
    assert embedded.ping(port)

    server.stop()

    assert not embedded.ping(port)


def test_a_count_with_a_text_query_counts_only_matching_documents_on_sqlite(data_dir):
    """On the SQLite engine `count` ignored $text; find applied it (accommodated)."""
    uri = embedded.ensure_running(data_dir, port=embedded.free_port())
    with MongoClient(uri) as client:
        products = client.shop.products
        products.create_index([("title", "text")], name="title_text")
        products.insert_many(
            [
                {"title": "Clean Code", "price": 1},
                {"title": "Refactoring", "price": 1},
                {"title": "Clean Architecture", "price": 2},
            ]
        )
        query = {"$text": {"$search": "clean"}, "price": 1}

        counted = client.shop.command({"count": "products", "query": query})["n"]
        found = [document["title"] for document in products.find(query)]

    assert found == ["Clean Code"]
    assert counted == 1


def test_a_per_run_server_stops_when_the_process_that_started_it_dies(tmp_path):
    script = tmp_path / "starter.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from referral_site import embedded\n"
        "server = embedded.start_ephemeral()\n"
        "print(server.handle.port, server.handle.pid, flush=True)\n"
        "import os; os._exit(0)  # dies without stopping the server\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    port, pid = map(int, result.stdout.split())

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and embedded.pid_alive(pid):
        time.sleep(0.2)

    assert not embedded.pid_alive(pid)
    assert not embedded.ping(port)
