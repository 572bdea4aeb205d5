"""Browser tests: Debian's Chromium, driven by Playwright, against gunicorn.

gunicorn serves the site (two workers, settings.local with DEBUG off, static
files collected and served by whitenoise as in production) on this test run's
own database: the same server and the same test database that pytest-django
created. Tests put their data in with the ORM and must use ``transactional_db``
so that the data is committed where gunicorn can see it (and flushed after).

On a failing test every page it opened is saved to test-output/ as a PNG and
an HTML file, and gunicorn's log is in test-output/e2e-gunicorn.log.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client

from catalog.models import Category, Product
from catalog.services import product_file_attach
from referral_site import stripe_emulator
from referral_site.embedded import free_port

CLEAN_CODE_FILE = b"%PDF-1.4 Clean Code, the e2e edition\n" * 2000
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
# Milliseconds. Checkout on the embedded server can take a second or two on a
# loaded 2-core CI machine; the default 5 s leaves too little headroom.
TIMEOUT_MS = 20_000
START_TIMEOUT_S = 90


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    pages = getattr(item, "_e2e_pages", [])
    if not pages:
        return
    OUTPUT.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
    saved = []
    for index, page in enumerate(pages):
        if page.is_closed():
            continue
        base = OUTPUT / f"{stem}-{index}"
        try:
            page.screenshot(path=f"{base}.png", full_page=True)
            Path(f"{base}.html").write_text(page.content())
            saved.append(f"{base}.png ({page.url})")
        except Exception as exc:  # keep the test's own failure in front
            saved.append(f"{base}: could not save ({exc})")
    report.sections.append(("e2e pages saved", "\n".join(saved)))


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@contextlib.contextmanager
def serve_site(extra_env: dict | None = None, *, log_name: str = "e2e-gunicorn.log"):
    """gunicorn serving the site on this run's test database; yields its base URL.

    ``extra_env`` adds settings (environment variables) for this server only.
    """
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "MONGODB_URI": settings_dict["HOST"],
        "MONGODB_NAME": settings_dict["NAME"],
        "DJANGO_SETTINGS_MODULE": "referral_site.settings.local",
        "DEBUG": "false",
        "GUNICORN_ACCESS_LOG": "-",
        **(extra_env or {}),
    }
    # DEBUG off: whitenoise serves the collected files, as in production.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    OUTPUT.mkdir(exist_ok=True)
    port = free_port()
    log = (OUTPUT / log_name).open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.poll() is not None:
            log.close()
            pytest.fail(f"gunicorn exited with status {server.returncode}; see {OUTPUT / log_name}")
        try:
            if _get(f"{base}/healthz") == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            server.wait()
            log.close()
            pytest.fail(f"gunicorn did not answer within {START_TIMEOUT_S} s")
        time.sleep(0.2)
    try:
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="package")
def live_site(django_db_setup):
    """Base URL of gunicorn serving the site on this run's test database."""
    with serve_site() as base:
        # The payment emulator delivers its webhooks to this site.
        stripe_emulator.register_webhook(
            settings.STRIPE_API_BASE,
            url=f"{base}/webhooks/stripe/",
            secret=settings.STRIPE_WEBHOOK_SECRET,
        )
        yield base


@pytest.fixture(scope="package")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)")
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this
    # thread while it is started, which Django's async-safety check takes for
    # async code and refuses ORM calls in the tests. There is no async code in
    # these tests: lift the check for exactly as long as Playwright runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        expect.set_options(timeout=TIMEOUT_MS)
        # A plain launch starts from a fresh temporary profile.
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(request, browser, live_site):
    """Open a page in a new browser context (its own cookies: one visitor each).

    ``new_page(user=u)`` signs the context in as ``u`` with a session made
    in-process (no login form, so no rate limit); ``viewport`` sets the size.
    Every page is kept on the test item for the failure screenshots.
    """
    contexts = []
    request.node._e2e_pages = pages = []

    def _new_page(*, user=None, viewport=None):
        options = {"base_url": live_site}
        if viewport is not None:
            options["viewport"] = viewport
        context = browser.new_context(accept_downloads=True, **options)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        # 127.0.0.1 is a secure context, so the copy button can use the clipboard.
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": client.cookies["sessionid"].value,
                        "url": live_site,
                    }
                ]
            )
        page = context.new_page()
        pages.append(page)
        return page

    yield _new_page
    for context in contexts:
        context.close()


def seed_catalog() -> dict[str, Product]:
    """Two catalog pages (24 a page): Clean Code, Refactoring and 28 others, by title.

    Clean Code has its file to download. Returns the two named products by title.
    """
    fillers = [
        Product(
            title=f"Field Guide Volume {n:02d}",
            description="A guide.",
            author="Various",
            price=Decimal("9.99") + n,
            category=Category.COURSE,
        )
        for n in range(28)
    ]
    named = [
        Product(
            title="Clean Code",
            description="Agile craftsmanship.",
            author="Robert C. Martin",
            price=Decimal("32.99"),
            category=Category.EBOOK,
        ),
        Product(
            title="Refactoring",
            description="Improving the design of existing code.",
            author="Martin Fowler",
            price=Decimal("45.00"),
            category=Category.EBOOK,
        ),
    ]
    Product.objects.bulk_create(fillers + named)
    # What Clean Code's buyers download.
    clean_code = Product.objects.get(title="Clean Code")
    product_file_attach(
        product=clean_code,
        upload=SimpleUploadedFile("clean-code.pdf", CLEAN_CODE_FILE, "application/pdf"),
    )
    return {
        product.title: product
        for product in Product.objects.filter(title__in=["Clean Code", "Refactoring"])
    }


@pytest.fixture
def catalog(transactional_db):
    """The seeded catalog (seed_catalog) for one test."""
    return seed_catalog()


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    """Database access for one data set shared by all the tests of a module.

    ``transactional_db`` flushes the database after every test, so a module
    that visits many pages with the same data would build it again for each.
    Instead its own module-scoped fixture asks for this one and writes the
    data ``with module_db.unblock():``; its tests then use no database
    themselves (no ``django_db`` mark: their flush would remove the data) and
    sign in with session ids made beforehand (``Client().force_login``). After
    the module's last test the database is flushed, GridFS's collections included.
    """
    yield django_db_blocker
    with django_db_blocker.unblock():
        call_command("flush", verbosity=0, interactive=False)
        connection.ensure_connection()
        for name in ("fs.files", "fs.chunks"):
            connection.database[name].delete_many({})
