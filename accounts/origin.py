"""Where a person signs up or in from: a keyed hash of the IP address and a browser id.

Kept on the user (``lastIpHash``, ``lastBrowserHash``, ``lastSeenAt``) for the
referral programme's abuse signals (referrals.abuse): a sign-up from the
referrer's own address or browser is sent for review. Neither is stored in
clear: the address is hashed with SIGNAL_HASH_KEY (else a key derived from
SECRET_KEY); the browser id is a random first-party cookie, hashed likewise.
"""

import ipaddress
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import user_logged_in
from django.contrib.auth.models import update_last_login
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts import ratelimit
from accounts.models import User
from referral_site.db.collections import collection

BROWSER_COOKIE = "browser_id"
BROWSER_MAX_AGE = 2 * 365 * 24 * 60 * 60
_NEW_BROWSER = "_browser_id_new"


@dataclass(frozen=True)
class Origin:
    ip_hash: str = ""
    browser_hash: str = ""


def keyed_hash(value: str, *, purpose: str) -> str:
    return salted_hmac(
        f"accounts.origin.{purpose}",
        value,
        secret=settings.SIGNAL_HASH_KEY or None,
        algorithm="sha256",
    ).hexdigest()


def browser_id(request) -> str:
    """This browser's id: its cookie, or a new one the middleware will set."""
    value = request.COOKIES.get(BROWSER_COOKIE, "")
    if not (16 <= len(value) <= 64 and value.isalnum()):
        value = getattr(request, _NEW_BROWSER, None) or secrets.token_hex(16)
        setattr(request, _NEW_BROWSER, value)
    return value


def _public(ip: str | None) -> bool:
    """A public address: loopback and private ones (development, or a proxy left
    out of TRUSTED_PROXY_COUNT) are shared by everyone behind them, so no signal."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return not (address.is_private or address.is_loopback or address.is_link_local)


def request_origin(request) -> Origin:
    ip = ratelimit.client_ip(request)
    return Origin(
        ip_hash=keyed_hash(ip, purpose="ip") if _public(ip) else "",
        browser_hash=keyed_hash(browser_id(request), purpose="browser"),
    )


class BrowserIdMiddleware:
    """Sets the browser id cookie when a view asked for one that did not exist yet."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        value = getattr(request, _NEW_BROWSER, None)
        if value:
            response.set_cookie(
                BROWSER_COOKIE,
                value,
                max_age=BROWSER_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response


def record_sign_in(sender, request, user, **kwargs):
    """On every sign-in, one update: lastLogin (Django's own) and where it came from."""
    now = timezone.now()
    user.last_login = now
    fields = {"lastLogin": now, "lastSeenAt": now}
    if request is not None:
        origin = request_origin(request)
        fields |= {"lastIpHash": origin.ip_hash, "lastBrowserHash": origin.browser_hash}
    collection(User).update_one({"_id": user.pk}, {"$set": fields})


def connect() -> None:
    user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
    user_logged_in.connect(record_sign_in, dispatch_uid="accounts.origin")
