"""The embedded payment provider: the localstripe emulator, when STRIPE_SECRET_KEY is unset.

This module is the only place that starts, finds or stops it, the way
referral_site/embedded.py does for the database. The emulator runs as a
process of its own (``scripts/localstripe-loopback``; localstripe is GPL, so
nothing of the application imports it), on a loopback port, with its state
in memory. The application talks to it with the official stripe SDK over
HTTP (``STRIPE_API_BASE``), the checkout page loads its Stripe.js replacement
(``STRIPE_JS_URL``), and it delivers webhooks, signed with the configured
secret, to the URL registered here.

* ``ensure_running(...)``: the development server's emulator, started on
  first use and reused while it answers (``manage.py embedded_stripe stop``).
* ``start_ephemeral(...)``: one emulator per test run, on a free port, gone
  with the process that started it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from referral_site.embedded import free_port, pid_alive, port_is_free, terminate

START_TIMEOUT_S = 20.0
LAUNCHER = Path(__file__).resolve().parent.parent / "scripts" / "localstripe-loopback"
# The emulator accepts any key of this shape; the webhook secret signs its events.
SECRET_KEY = "sk_test_embedded"  # noqa: S105 - the emulator's, not a secret
PUBLISHABLE_KEY = "pk_test_embedded"
WEBHOOK_SECRET = "whsec_embedded"  # noqa: S105 - the emulator's, not a secret


class EmulatorError(RuntimeError):
    """A one-line, actionable reason why the embedded payment provider is not available."""


@dataclass(frozen=True)
class Emulator:
    pid: int
    port: int

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        # The emulator's Stripe.js finds its API from this path (it must end so).
        return f"{self.api_base}/js.stripe.com/v3/"

    def stop(self) -> None:
        if pid_alive(self.pid):
            terminate(self.pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)


def answers(port: int, timeout_s: float = 1.0) -> bool:
    """True when the emulator serves its Stripe.js on the loopback port."""
    url = f"http://127.0.0.1:{port}/js.stripe.com/v3/"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:  # noqa: S310 - loopback
            return reply.status == 200
    except (OSError, urllib.error.URLError):
        return False


def register_webhook(api_base: str, *, url: str, secret: str, name: str = "shop") -> None:
    """Have the emulator deliver its events to ``url``, signed with ``secret``."""
    body = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(f"{api_base}/_config/webhooks/{name}", data=body)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310 - loopback
        if reply.status != 200:
            raise EmulatorError(f"the payment emulator refused the webhook ({reply.status})")


def _spawn(port: int, *, parent_pid: int | None, log_file: Path | None) -> Emulator:
    args = [sys.executable, str(LAUNCHER), str(port)]
    if parent_pid:
        args.append(str(parent_pid))
    log = open(log_file, "ab") if log_file is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own launcher
        args,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=parent_pid is None,
    )
    if log_file is not None:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if answers(port, timeout_s=0.5):
            return Emulator(pid=proc.pid, port=port)
        time.sleep(0.05)
    code = proc.poll()
    if code is None:
        terminate(proc.pid)
    where = f"; see {log_file}" if log_file is not None else ""
    raise EmulatorError(
        f"the payment emulator did not start on port {port} (exit status {code}){where}"
    )


def start_ephemeral(*, webhook_url: str | None = None, secret: str = WEBHOOK_SECRET) -> Emulator:
    """An emulator for this process only (a test run), on a free loopback port."""
    emulator = _spawn(free_port(), parent_pid=os.getpid(), log_file=None)
    if webhook_url:
        register_webhook(emulator.api_base, url=webhook_url, secret=secret)
    return emulator


def _state(data_dir: Path) -> tuple[Path, Path, Path]:
    return data_dir / "server.json", data_dir / "server.log", data_dir / "server.lock"


def ensure_running(data_dir: Path, *, port: int, webhook_url: str, secret: str) -> Emulator:
    """The development emulator on ``port``, started if needed, its webhook registered.

    Safe from several processes at once (the autoreloader, gunicorn workers):
    a file lock makes one of them start it. Its state is in memory: a
    restarted emulator has forgotten earlier payments.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    state_file, log_file, lock_file = _state(data_dir)
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            recorded = json.loads(state_file.read_text())
            emulator = Emulator(pid=int(recorded["pid"]), port=int(recorded["port"]))
            if emulator.port == port and pid_alive(emulator.pid) and answers(port):
                return emulator
        if not port_is_free(port):
            raise EmulatorError(
                f"port {port} is in use by another program; stop it or set "
                f"EMBEDDED_STRIPE_PORT to a free port"
            )
        emulator = _spawn(port, parent_pid=None, log_file=log_file)
        # Registrations live in the emulator's memory: register on every start.
        register_webhook(emulator.api_base, url=webhook_url, secret=secret)
        state_file.write_text(json.dumps({"pid": emulator.pid, "port": emulator.port}))
        return emulator


def stop(data_dir: Path) -> Emulator | None:
    """Stop the development emulator; return it, or None when none ran."""
    state_file, _, lock_file = _state(data_dir)
    if not state_file.exists():
        return None
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            recorded = json.loads(state_file.read_text())
            emulator = Emulator(pid=int(recorded["pid"]), port=int(recorded["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            emulator = None
        if emulator is not None:
            emulator.stop()
        state_file.unlink(missing_ok=True)
        return emulator
