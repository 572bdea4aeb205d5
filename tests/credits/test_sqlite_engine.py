"""The ledger's guards and repairs on the SQLite engine, the one `make run` uses.

The suite runs on the memory engine; this test starts a SQLite-engine server
in a temporary folder and runs the application's own services there, in a
``manage.py shell`` of the development settings.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from referral_site import embedded

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, threading, uuid
from concurrent.futures import ThreadPoolExecutor
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from accounts.models import User
from accounts.services import user_create
from credits.models import Kind
from credits.services import InsufficientCredits, credits_grant, credits_spend

def grant(user, n):
    credits_grant(user_id=user.pk, amount=n, kind=Kind.ADJUSTMENT,
                  idempotency_key=uuid.uuid4().hex, reason="test")

racer = user_create(email="racer@example.com", password="pw-test-1234", name="Racer")
grant(racer, 2)
barrier = threading.Barrier(20)
def spend(_):
    barrier.wait()
    try:
        credits_spend(user_id=racer.pk, amount=2, idempotency_key=uuid.uuid4().hex, reason="race")
        return True
    except InsufficientCredits:
        return False
    finally:
        connections.close_all()
with ThreadPoolExecutor(max_workers=20) as pool:
    wins = list(pool.map(spend, range(20))).count(True)

drifted = user_create(email="drift@example.com", password="pw-test-1234", name="Drift")
grant(drifted, 2)
User.objects.filter(pk=drifted.pk).update(credits=7, total_credits_earned=7)
try:
    call_command("reconcile_credits", "--quiet-seconds", "0", verbosity=0)
    repaired_ok = True
except CommandError:
    repaired_ok = False
drifted.refresh_from_db()
racer.refresh_from_db()
print("RESULT" + json.dumps({"wins": wins, "racer": racer.credits, "repaired_ok": repaired_ok,
                             "drifted": [drifted.credits, drifted.total_credits_earned]}))
"""


def test_guards_hold_and_drift_is_repaired_on_the_sqlite_engine(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "MONGODB_URI"},
        "DJANGO_SETTINGS_MODULE": "referral_site.settings.local",
        "EMBEDDED_MONGODB_DIR": str(tmp_path),
        "EMBEDDED_MONGODB_PORT": str(embedded.free_port()),
    }

    def manage(*args, **kwargs):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            **kwargs,
        )

    try:
        assert manage("migrate", "--noinput", "-v", "0").returncode == 0
        result = manage("shell", input=SCRIPT)
    finally:
        embedded.stop(tmp_path)

    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line, result.stdout + result.stderr
    outcome = json.loads(line.removeprefix("RESULT"))
    assert (outcome["wins"], outcome["racer"]) == (1, 0)
    assert outcome["repaired_ok"] and outcome["drifted"] == [2, 2]
