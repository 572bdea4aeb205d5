"""Helpers shared by the pages that sign people in or up (here and in referrals)."""

from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import ratelimit


def rate_limited(request, *, scope: str, email: str | None):
    """Count this attempt; the exceeded limit, or None while under it."""
    return ratelimit.attempt_register(scope=scope, ip=ratelimit.client_ip(request), email=email)


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
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None
