"""The site under gunicorn while its database goes away and comes back."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from referral_site import embedded

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str, timeout: float = 10.0) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), time.monotonic() - started


@pytest.fixture
def site(tmp_path):
    """gunicorn serving the site on its own SQLite embedded server."""
    data_dir = tmp_path / "mongo"
    db_port = embedded.free_port()
    uri = embedded.ensure_running(data_dir, port=db_port)
    env = {
        **os.environ,
        "MONGODB_URI": uri,
        "MONGODB_NAME": "outage_test",
        "MONGODB_TIMEOUT_MS": "2000",
        "DJANGO_SETTINGS_MODULE": "referral_site.settings.local",
        "DEBUG": "false",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )
    web_port = embedded.free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{web_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("gunicorn did not come up")
    yield {"base": base, "data_dir": data_dir, "db_port": db_port}
    server.terminate()
    server.wait(timeout=30)
    embedded.stop(data_dir)


def test_pages_answer_503_quickly_while_the_database_is_down_and_recover(site):
    base = site["base"]
    assert _get(f"{base}/")[0] == 200

    embedded.stop(site["data_dir"])
    status, body, elapsed = _get(f"{base}/")
    health_status, health_body, _ = _get(f"{base}/healthz")

    assert status == 503
    assert "We&#x27;ll be right back" in body or "We'll be right back" in body
    assert elapsed < 5.0
    assert health_status == 503
    assert json.loads(health_body)["status"] == "unavailable"

    embedded.ensure_running(site["data_dir"], port=site["db_port"])
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        status = _get(f"{base}/")[0]
        if status == 200:
            break
        time.sleep(0.3)
    assert status == 200
    assert _get(f"{base}/healthz")[0] == 200
