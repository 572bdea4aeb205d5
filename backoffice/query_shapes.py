"""The application's query shapes: the commands each benchmarked page sends.

Each page of bench/README.md is requested in-process with Django's test
client while referral_site.ops.queryplans captures the commands; then each
read is explained (the plan, never the read again). Shared by
``explain_queries`` and ``index_report``.

Nothing is written to the operator's data:

* signed-in pages use a session kept in a signed cookie made here, so no
  session document and no sign-in (which would record lastLogin) are written;
* only GET pages are requested. The checkout POST (the first purchase, the
  referral award) writes a purchase, ledger entries and a payment, so it is
  not requested; its reads are the ones the purchase services make on
  indexed keys (_id, idempotencyKey, userId+isFirstPurchase), which
  index_report checks as declared indexes;
* every write command a GET page sends anyway is listed as such, so an
  unexpected one is seen, not hidden.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import Client
from django.test.utils import override_settings

from accounts.models import User
from catalog.models import Product
from referral_site.db.collections import collection
from referral_site.ops.queryplans import (
    READ_COMMANDS,
    WRITE_COMMANDS,
    Captured,
    capture_commands,
)
from referrals.models import Referral


@dataclass
class Page:
    name: str
    path: str
    user: User | None = None


@dataclass
class PageCommands:
    page: Page
    status: int
    reads: list[Captured] = field(default_factory=list)
    writes: list[Captured] = field(default_factory=list)


def benchmarked_pages() -> list[Page]:
    """bench/README.md's GET pages, for data found (read) in the database."""
    pages = [
        Page("home", "/"),
        Page("catalog", "/products/?category=ebook&min_price=10&sort=price_asc"),
    ]
    product = (
        Product.objects.filter(category="ebook").order_by("pk").first()
        or Product.objects.order_by("pk").first()
    )
    referrer = _busiest_referrer()
    if product is not None:
        pages.append(Page("product", f"/products/{product.pk}/", user=referrer))
        if referrer is not None:
            pages.append(Page("checkout", f"/checkout/{product.pk}/", user=referrer))
    if referrer is not None:
        pages.append(Page("dashboard", "/dashboard/", user=referrer))
    return pages


def _busiest_referrer() -> User | None:
    """The referrer with the most referrals (the benchmark's user 0), else any active user."""
    rows = collection(Referral).aggregate(
        [
            {"$group": {"_id": "$referrerId", "n": {"$sum": 1}}},
            {"$sort": {"n": -1, "_id": 1}},
            {"$limit": 1},
        ]
    )
    for row in rows:
        user = User.objects.filter(pk=row["_id"], is_active=True).first()
        if user is not None:
            return user
    return User.objects.filter(is_active=True).order_by("pk").first()


def _client() -> Client:
    host = next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h != "*"), "localhost")
    # A page that fails is reported with its status, not raised.
    return Client(SERVER_NAME=host, HTTP_HOST=host, raise_request_exception=False)


def _sign_in(client: Client, user: User) -> None:
    """A session in a signed cookie (no session document, no lastLogin written)."""
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key


def capture_pages(pages: list[Page] | None = None) -> list[PageCommands]:
    """Request each page once and keep the commands it sent."""
    results = []
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        for page in pages if pages is not None else benchmarked_pages():
            client = _client()
            if page.user is not None:
                _sign_in(client, page.user)
            with capture_commands() as log:
                response = client.get(page.path, secure=secure)
            outcome = PageCommands(page=page, status=response.status_code)
            for command in log.commands:
                if command.name in READ_COMMANDS:
                    outcome.reads.append(command)
                elif command.name in WRITE_COMMANDS:
                    outcome.writes.append(command)
            results.append(outcome)
    return results
