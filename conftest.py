"""Test-run set-up: one memory-engine MongoDB-wire server per run.

With MONGODB_URI set, the suite runs against that real MongoDB instead and
nothing is started here.
"""

import os

from django.conf import settings


def pytest_configure(config):
    database = settings.DATABASES["default"]
    if not database.get("EMBEDDED"):
        return
    from referral_site import embedded

    server = embedded.start_ephemeral()
    # Before any connection exists: Django reads these on first connect.
    database.pop("EMBEDDED")
    database["HOST"] = server.uri
    # Subprocesses started by tests (gunicorn, manage.py) find the same server.
    os.environ["TEST_MONGODB_URI"] = server.uri
    config.add_cleanup(server.stop)
