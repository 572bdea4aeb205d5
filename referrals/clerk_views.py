"""The Clerk pages: sign-in and sign-up with Clerk's own components, the return
page that finishes the sign-in, and the one-time link to a password account.

Only these pages load ClerkJS, so only they get the relaxed Content-Security-
Policy (``clerk_csp``); every other page keeps the strict one.
"""

import time
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csp import csp_override
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts import clerk, ratelimit
from accounts.models import ClerkUserTaken, User
from accounts.origin import request_origin
from accounts.selectors import user_get_by_referral_code
from accounts.services import LinkRefused, clerk_session_is_ended, user_link_clerk
from accounts.web import failure_register, failures_over_limit, safe_next, too_many_attempts
from referral_site.exceptions import ApplicationError
from referrals.capture import referral_code_forget, referral_code_remembered
from referrals.clerk_signin import LINK_SESSION_KEY, LINK_TTL_SECONDS, clerk_session_start
from referrals.services import user_get_or_create_for_clerk

# Clerk's documented needs ("Configure Clerk Content-Security-Policy headers"):
# its images, Cloudflare's bot protection (script and frame), workers from
# blob:, and inline styles for its CSS-in-JS.
CLERK_IMG_HOST = "https://img.clerk.com"
CLOUDFLARE_CHALLENGES = "https://challenges.cloudflare.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def clerk_policy() -> dict:
    """The site's policy plus exactly the Clerk origins the Clerk pages need."""
    policy = {key: list(value) for key, value in settings.SECURE_CSP.items()}
    # The Frontend API, and ClerkJS's origin when CLERK_JS_URL puts it elsewhere.
    clerk_origins = list(dict.fromkeys([clerk.frontend_api_url(), _origin(clerk.clerk_js_url())]))
    policy["script-src"] += [*clerk_origins, CLOUDFLARE_CHALLENGES]
    policy["connect-src"] += clerk_origins
    policy["img-src"].append(CLERK_IMG_HOST)
    policy["style-src"].append("'unsafe-inline'")
    policy["worker-src"] = ["'self'", "blob:"]
    policy["frame-src"] = ["'self'", CLOUDFLARE_CHALLENGES]
    return policy


def clerk_csp(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not clerk.is_configured():
            raise Http404("Clerk sign-in is not configured")
        return csp_override(clerk_policy())(view)(request, *args, **kwargs)

    return wrapped


def _complete_url(target: str | None) -> str:
    url = reverse("referrals:clerk_complete")
    return f"{url}?{urlencode({'next': target})}" if target else url


def _clerk_page(request, *, mode: str):
    target = safe_next(request)
    if request.user.is_authenticated:
        return HttpResponseRedirect(target or resolve_url(settings.LOGIN_REDIRECT_URL))
    inviter = user_get_by_referral_code(code=referral_code_remembered(request))
    return render(
        request,
        "referrals/clerk.html",
        {
            "mode": mode,
            "inviter": inviter,
            "next": target or "",
            "clerk_js_url": clerk.clerk_js_url(),
            "clerk_publishable_key": settings.CLERK_PUBLISHABLE_KEY,
            "complete_url": _complete_url(target),
            "sign_in_url": reverse("referrals:clerk_sign_in"),
            "sign_up_url": reverse("referrals:clerk_sign_up"),
        },
    )


@never_cache
@require_GET
@clerk_csp
def clerk_sign_in_page(request):
    return _clerk_page(request, mode="sign-in")


@never_cache
@require_GET
@clerk_csp
def clerk_sign_up_page(request):
    return _clerk_page(request, mode="sign-up")


def _landing(request, user: User, target: str | None, *, created: bool) -> HttpResponseRedirect:
    if target is None:
        if created and user.referred_by_id is not None:
            target = reverse("referrals:welcome")
        elif created:
            target = resolve_url(settings.SIGNUP_REDIRECT_URL)
        else:
            target = resolve_url(settings.LOGIN_REDIRECT_URL)
    return HttpResponseRedirect(target)


@never_cache
@require_GET
def clerk_complete(request):
    """Where ClerkJS sends the browser after sign-in or sign-up (the middleware did the work)."""
    if not clerk.is_configured():
        raise Http404("Clerk sign-in is not configured")
    target = safe_next(request)
    outcome = getattr(request, "clerk_outcome", None)
    if request.user.is_authenticated:
        created = bool(outcome and outcome.created)
        if created:
            messages.success(request, "Welcome! Your account is ready.")
        return _landing(request, request.user, target, created=created)
    if request.session.get(LINK_SESSION_KEY):
        url = reverse("referrals:clerk_link")
        return HttpResponseRedirect(f"{url}?{urlencode({'next': target})}" if target else url)
    return render(
        request,
        "referrals/clerk_complete.html",
        {"sign_in_url": reverse("referrals:clerk_sign_in")},
        status=401,
    )


def _pending(request) -> dict | None:
    pending = request.session.get(LINK_SESSION_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > LINK_TTL_SECONDS:
        request.session.pop(LINK_SESSION_KEY, None)
        return None
    return pending


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def clerk_link(request):
    """A Clerk user whose verified e-mail belongs to a password account: link after its password.

    "Link" checks the account's password (counted like a sign-in) and then
    gives the account its Clerk identity; "New account" makes a separate one
    (without that address, which stays the other account's).
    """
    pending = _pending(request)
    if pending is not None and clerk_session_is_ended(session_id=pending["sid"]):
        request.session.pop(LINK_SESSION_KEY, None)
        pending = None
    if pending is None:
        messages.info(request, "Please sign in again.")
        return redirect("referrals:clerk_sign_in")
    target = safe_next(request)
    context = {"email": pending["email"], "next": target or "", "error": None}
    if request.method == "GET":
        return render(request, "referrals/clerk_link.html", context)
    if request.POST.get("action") == "new":
        return _link_new_account(request, pending, target)
    exceeded = failures_over_limit(request, scope=ratelimit.SCOPE_AUTH, email=pending["email"])
    if exceeded:
        return too_many_attempts(request, "referrals/clerk_link.html", context, exceeded)
    password = request.POST.get("password", "")
    account = authenticate(request, email=pending["email"], password=password)
    if account is None or str(account.pk) != pending["userId"]:
        failure_register(request, scope=ratelimit.SCOPE_AUTH, email=pending["email"])
        context["error"] = "That is not this account's password."
        return render(request, "referrals/clerk_link.html", context, status=400)
    try:
        user = user_link_clerk(user=account, clerk_user_id=pending["sub"])
    except (LinkRefused, ClerkUserTaken) as exc:
        request.session.pop(LINK_SESSION_KEY, None)
        messages.error(request, exc.message)
        return redirect("referrals:clerk_sign_in")
    messages.success(request, "Your Clerk sign-in is now linked to your account.")
    if not clerk_session_start(request, user=user, sid=pending["sid"]):
        return redirect("referrals:clerk_sign_in")
    return _landing(request, user, target, created=False)


def _link_new_account(request, pending: dict, target: str | None):
    try:
        user, created = user_get_or_create_for_clerk(
            clerk_user_id=pending["sub"],
            name=pending["name"],
            email=None,
            referral_code=referral_code_remembered(request),
            origin=request_origin(request),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("referrals:clerk_sign_in")
    if not clerk_session_start(request, user=user, sid=pending["sid"]):
        return redirect("referrals:clerk_sign_in")
    if created:
        messages.success(request, "Welcome! Your account is ready.")
    response = _landing(request, user, target, created=created)
    referral_code_forget(request, response)
    return response
