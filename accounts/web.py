"""Helpers shared by the pages that sign people in or up (here and in referrals)."""

from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import ratelimit


def rate_limited(request, *, scope: str, email: str | None):
    """Count this attempt; the exceeded limit, or None while under it."""
    return ratelimit.attempt_register(scope=scope, ip=ratelimit.client_ip(request), email=email)


DEVICE_COOKIE = "known_device"
_DEVICE_SALT = "accounts.device"
DEVICE_MAX_AGE = 365 * 24 * 60 * 60


def device_trusted(request, email: str | None) -> bool:
    """This browser signed in to this account before (a signed cookie we set then)."""
    address = (email or "").strip().lower()
    remembered = request.get_signed_cookie(
        DEVICE_COOKIE, default=None, salt=_DEVICE_SALT, max_age=DEVICE_MAX_AGE
    )
    return bool(address) and remembered == ratelimit.account_digest(address)


def device_remember(request, response, email: str) -> None:
    response.set_signed_cookie(
        DEVICE_COOKIE,
        ratelimit.account_digest(email.strip().lower()),
        salt=_DEVICE_SALT,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def failures_over_limit(request, *, scope: str, email: str | None):
    """The limit on failed password checks, for this request's address and account."""
    return ratelimit.failures_over_limit(
        scope=scope,
        ip=ratelimit.client_ip(request),
        email=email,
        trusted_device=device_trusted(request, email),
    )


def failure_register(request, *, scope: str, email: str | None) -> None:
    ratelimit.failure_register(scope=scope, ip=ratelimit.client_ip(request), email=email)


def too_many_attempts(request, template: str, context: dict, exceeded):
    """The form again with a 429 and Retry-After, saying how long to wait."""
    minutes = exceeded.retry_after_minutes
    context = {
        **context,
        "rate_limit_message": (
            "Too many attempts from this address or for this account. Please wait "
            f"{minutes} minute{pluralize(minutes)} and try again."
        ),
    }
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(exceeded.retry_after_seconds)
    return response


def safe_next(request) -> str | None:
    """The ``next`` parameter when it points back into this site, else None."""
    target = request.POST.get("next") or request.GET.get("next")
    # A path on this site, nothing else ("foo" or "-1" would be taken for a view name).
    if (
        target
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return None
