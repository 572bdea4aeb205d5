"""Referral links (/r/<CODE>/ remembers the code) and sign-up with a code."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts import ratelimit
from accounts.backends import SESSION_BACKEND
from accounts.forms import SignupForm
from accounts.models import EmailTaken, User
from accounts.origin import request_origin
from accounts.selectors import referral_code_normalize, user_get_by_referral_code
from accounts.web import (
    failure_register,
    failures_over_limit,
    rate_limited,
    safe_next,
    too_many_attempts,
)
from catalog.selectors import product_list_featured
from referral_site.exceptions import ApplicationError
from referrals.capture import (
    referral_code_forget,
    referral_code_remember,
    referral_code_remembered,
)
from referrals.offer import offer_card_png, programme_offer
from referrals.selectors import referral_invitation
from referrals.services import referral_link_opened, user_signup

# --- Views ---------------------------------------------------------------------


@never_cache
@require_GET
def referral_link(request, code: str):
    """The invite page: who invited you, what you both get and when, then sign-up.

    Opening it remembers the code for the sign-up (a signed cookie). An unknown
    code says so (404) and still offers a sign-up without it.
    """
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
        return render(request, "referrals/invite.html", {"inviter": None}, status=404)
    referral_link_opened()
    response = render(
        request,
        "referrals/invite.html",
        {
            "inviter": referrer,
            "share_image": request.build_absolute_uri(reverse("referrals:offer_image")),
            "page_url": request.build_absolute_uri(),
        },
    )
    referral_code_remember(request, response, referral_code_normalize(code))
    return response


@require_GET
def offer_image(request):
    """The invite link's preview picture (Open Graph): the offer as the settings state it."""
    response = HttpResponse(offer_card_png(programme_offer()), content_type="image/png")
    patch_cache_control(response, public=True, max_age=3600)
    return response


@login_required
@require_GET
def welcome(request):
    """Where an invited friend lands after signing up: their offer, then the catalog."""
    invitation = (
        referral_invitation(referred_user_id=request.user.pk)
        if request.user.referred_by_id
        else None
    )
    inviter = User.objects.filter(pk=request.user.referred_by_id).first() if invitation else None
    return render(
        request,
        "referrals/welcome.html",
        {"invitation": invitation, "inviter": inviter, "products": product_list_featured(limit=4)},
    )


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request):
    target = safe_next(request)
    if request.user.is_authenticated:
        return HttpResponseRedirect(target or resolve_url(settings.SIGNUP_REDIRECT_URL))
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
    email_taken = False
    if form.is_valid():
        try:
            user = user_signup(**form.cleaned_data, origin=request_origin(request))
        except EmailTaken as exc:
            exc.add_to_form(form)
            email_taken = True
        except ApplicationError as exc:
            exc.add_to_form(form)
        else:
            return _signed_up(request, user, target)
    inviter = user_get_by_referral_code(code=form.data.get("referral_code"))
    return _signup_page(request, form, inviter=inviter, email_taken=email_taken)


def _signup_page(request, form, *, inviter, email_taken=False):
    return render(
        request,
        "accounts/signup.html",
        {
            "form": form,
            "inviter": inviter,
            "next": safe_next(request) or "",
            "email_taken": email_taken,
        },
    )


def _signed_up(request, user, target: str | None):
    login(request, user, backend=SESSION_BACKEND)
    messages.success(request, "Welcome! Your account is ready.")
    if target is None:
        # An invited friend's page is about their reward; everyone else's, their link.
        invited = user.referred_by_id is not None
        target = (
            reverse("referrals:welcome") if invited else resolve_url(settings.SIGNUP_REDIRECT_URL)
        )
    response = HttpResponseRedirect(target)  # a URL, never a view name to resolve
    referral_code_forget(request, response)
    return response
