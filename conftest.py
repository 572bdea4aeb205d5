"""Test-run set-up: one memory-engine MongoDB-wire server and one Stripe emulator per run.

With MONGODB_URI set, the suite runs against that real MongoDB instead and
nothing is started here.
"""

import os

from django.conf import settings


def pytest_configure(config):
    _start_payment_emulator(config)
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


def _start_payment_emulator(config):
    """The embedded Stripe emulator for this run, unless STRIPE_SECRET_KEY names a real one."""
    if not settings.EMBEDDED_STRIPE:
        return
    from referral_site import stripe_emulator

    emulator = stripe_emulator.start_ephemeral()
    settings.EMBEDDED_STRIPE = None
    settings.STRIPE_API_BASE = emulator.api_base
    settings.STRIPE_JS_URL = emulator.js_url
    # Subprocesses started by tests (gunicorn, manage.py) use the same emulator.
    os.environ.update(
        STRIPE_SECRET_KEY=settings.STRIPE_SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY=settings.STRIPE_PUBLISHABLE_KEY,
        STRIPE_WEBHOOK_SECRET=settings.STRIPE_WEBHOOK_SECRET,
        STRIPE_API_BASE=emulator.api_base,
        STRIPE_JS_URL=emulator.js_url,
    )
    config.add_cleanup(emulator.stop)
