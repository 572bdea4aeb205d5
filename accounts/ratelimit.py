"""Attempt limits for sign-in, sign-up and password reset, shared by every process.

Counters are documents in ``rateLimits`` (accounts.models.RateLimitBucket):
one per key and fixed time window, moved with a conditional ``$inc``, never
held in process memory (ARCHITECTURE.md section 8). Keys carry an HMAC of the
IP address or e-mail address, never the value itself.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import RateLimitBucket

# Sign-in and sign-up share one scope: sign-up with an existing address and its
# password signs in (double submit), so both are ways to guess a password.
SCOPE_AUTH = "auth"
SCOPE_PASSWORD_RESET = "reset"  # noqa: S105 (a counter name, not a secret)
# Password checks of a signed-in user (password change, account deletion).
SCOPE_PASSWORD_CHECK = "password-check"  # noqa: S105 (a counter name, not a secret)
# Unknown codes tried at /r/<code>/, per IP address (guessing codes).
SCOPE_REFERRAL_CODE = "referral-code"
_HMAC_SALT = "accounts.ratelimit"
_ATTEMPTS = 5


@dataclass(frozen=True)
class RateLimitExceeded:
    retry_after_seconds: int

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_seconds / 60))


def rate_limit_hit(
    *, key: str, window_seconds: int, now: datetime | None = None
) -> tuple[int, datetime]:
    """Count one attempt for ``key``; return the window's count and its end.

    Fixed windows aligned to the epoch: each window is its own document, so
    nothing ever needs resetting (the TTL index removes old ones). The count
    read back can include other processes' concurrent attempts; it never
    misses this one.
    """
    now = now or timezone.now()
    window, window_end = _window(window_seconds, now)
    bucket_key = f"{key}:{window_seconds}:{window}"
    buckets = RateLimitBucket.objects.filter(key=bucket_key)
    for _ in range(_ATTEMPTS):
        # $inc on the one document is atomic: concurrent attempts all count.
        if buckets.update(count=F("count") + 1):
            count = buckets.values_list("count", flat=True).first()
            if count is not None:
                return count, window_end
            continue  # removed in between (TTL, clock skew): start the window again
        try:
            RateLimitBucket.objects.create(key=bucket_key, count=1, expires_at=window_end)
            return 1, window_end
        except IntegrityError:
            # The unique key: another process created this window's document
            # between our update and our insert. Increment that one instead.
            continue
    raise RuntimeError("rate limit counter could not be written")


def _digest(value: str) -> str:
    return salted_hmac(_HMAC_SALT, value, algorithm="sha256").hexdigest()


def account_digest(email: str) -> str:
    """An account's e-mail address as stored in counters and the device cookie: never in clear."""
    return _digest(email)


def attempt_register(
    *, scope: str, ip: str | None, email: str | None, now: datetime | None = None
) -> RateLimitExceeded | None:
    """Count an attempt per IP address and per account; say when either is over.

    Every attempt counts, including blocked ones and successes: this is a
    ceiling on tries, not on failures. ``AUTH_RATE_LIMIT = 0`` turns it off.
    """
    limit = settings.AUTH_RATE_LIMIT
    window_seconds = settings.AUTH_RATE_WINDOW_SECONDS
    if limit <= 0:
        return None
    now = now or timezone.now()
    exceeded_until = None
    for key in _keys(scope, ip, email):
        count, window_end = rate_limit_hit(key=key, window_seconds=window_seconds, now=now)
        if count > limit:
            exceeded_until = max(exceeded_until or window_end, window_end)
    if exceeded_until is None:
        return None
    return RateLimitExceeded(
        retry_after_seconds=max(1, math.ceil((exceeded_until - now).total_seconds()))
    )


def _window(window_seconds: int, now: datetime) -> tuple[int, datetime]:
    window = int(now.timestamp()) // window_seconds
    return window, datetime.fromtimestamp((window + 1) * window_seconds, tz=UTC)


def _keys(scope: str, ip: str | None, email: str | None, *, account: bool = True):
    address = (email or "").strip().lower()
    if ip:
        yield f"{scope}:ip:{_digest(ip)}"
    if address and account:
        yield f"{scope}:account:{_digest(address)}"


def failures_over_limit(
    *,
    scope: str,
    ip: str | None,
    email: str | None,
    trusted_device: bool = False,
    now: datetime | None = None,
) -> RateLimitExceeded | None:
    """Whether earlier failures put this IP address or account at the limit; counts nothing.

    Only failures count (``failure_register``), so the owner's successful
    sign-ins never lock anyone out, and a browser the account signed in from
    before (``trusted_device``) is not held back by failures on the account
    made elsewhere, only by its own address's.
    """
    limit = settings.AUTH_RATE_LIMIT
    if limit <= 0:
        return None
    now = now or timezone.now()
    window_seconds = settings.AUTH_RATE_WINDOW_SECONDS
    window, window_end = _window(window_seconds, now)
    keys = [
        f"{key}:{window_seconds}:{window}"
        for key in _keys(scope, ip, email, account=not trusted_device)
    ]
    counts = RateLimitBucket.objects.filter(key__in=keys).values_list("count", flat=True)
    if not any(count >= limit for count in counts):
        return None
    return RateLimitExceeded(
        retry_after_seconds=max(1, math.ceil((window_end - now).total_seconds()))
    )


def failure_register(
    *, scope: str, ip: str | None, email: str | None, now: datetime | None = None
) -> None:
    """Count one failure (a wrong password, an unknown code) per IP address and account."""
    if settings.AUTH_RATE_LIMIT <= 0:
        return
    for key in _keys(scope, ip, email):
        rate_limit_hit(key=key, window_seconds=settings.AUTH_RATE_WINDOW_SECONDS, now=now)


def client_ip(request) -> str | None:
    """The visitor's address: REMOTE_ADDR, or X-Forwarded-For behind trusted proxies.

    With ``TRUSTED_PROXY_COUNT = n`` the n-th address from the right is the
    one our nearest trusted proxy saw; anything left of it is client-supplied
    and could be forged.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if forwarded:
            return forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]
    return request.META.get("REMOTE_ADDR") or None
