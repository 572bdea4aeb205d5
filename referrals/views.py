"""Referral links (/r/<CODE>/ remembers the code) and sign-up with a code."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts import ratelimit
from accounts.backends import SESSION_BACKEND
from accounts.forms import SignupForm
from accounts.origin import request_origin
from accounts.selectors import referral_code_normalize, user_get_by_referral_code
from accounts.web import (
    failure_register,
    failures_over_limit,
    rate_limited,
    safe_next,
    too_many_attempts,
)
from referral_site.exceptions import ApplicationError
from referrals.capture import (
    referral_code_forget,
    referral_code_remember,
    referral_code_remembered,
)
from referrals.services import referral_link_opened, user_signup

# --- Views ---------------------------------------------------------------------


@never_cache
@require_GET
def referral_link(request, code: str):
    if request.user.is_authenticated:
        # A user is referred only at sign-up; an existing account is never re-referred.
        messages.info(
            request, "You already have an account, so this invitation link does not apply to you."
        )
        return redirect("home")
    # Guessing codes costs a visitor their address's share of unknown codes.
    exceeded = failures_over_limit(request, scope=ratelimit.SCOPE_REFERRAL_CODE, email=None)
    if exceeded:
        return too_many_attempts(request, "referrals/too_many_codes.html", {}, exceeded)
    referrer = user_get_by_referral_code(code=code)
    if referrer is None:
        failure_register(request, scope=ratelimit.SCOPE_REFERRAL_CODE, email=None)
        messages.warning(
            request,
            "This invitation link is not valid (the referral code was "
            "not found). You can still sign up without it.",
        )
        return redirect("referrals:signup")
    referral_link_opened()
    response = redirect("referrals:signup")
    referral_code_remember(request, response, referral_code_normalize(code))
    return response


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request):
    target = safe_next(request) or resolve_url(settings.SIGNUP_REDIRECT_URL)
    if request.user.is_authenticated:
        return HttpResponseRedirect(target)
    if request.method == "GET":
        inviter = user_get_by_referral_code(code=referral_code_remembered(request))
        form = SignupForm(initial={"referral_code": inviter.referral_code if inviter else ""})
        return _signup_page(request, form, inviter=inviter)
    exceeded = rate_limited(request, scope=ratelimit.SCOPE_AUTH, email=request.POST.get("email"))
    if exceeded:
        form = SignupForm(
            initial={key: request.POST.get(key, "") for key in ("name", "email", "referral_code")}
        )
        return too_many_attempts(
            request,
            "accounts/signup.html",
            {"form": form, "next": safe_next(request) or ""},
            exceeded,
        )
    form = SignupForm(request.POST)
    if form.is_valid():
        try:
            user = user_signup(**form.cleaned_data, origin=request_origin(request))
        except ApplicationError as exc:
            exc.add_to_form(form)
        else:
            return _signed_up(request, user, target)
    inviter = user_get_by_referral_code(code=form.data.get("referral_code"))
    return _signup_page(request, form, inviter=inviter)


def _signup_page(request, form, *, inviter):
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "inviter": inviter, "next": safe_next(request) or ""},
    )


def _signed_up(request, user, target: str):
    login(request, user, backend=SESSION_BACKEND)
    messages.success(request, "Welcome! Your account is ready.")
    response = HttpResponseRedirect(target)  # a URL, never a view name to resolve
    referral_code_forget(request, response)
    return response
