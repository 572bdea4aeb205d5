"""Referral links: /r/<CODE>/ remembers the code and leads to sign-up."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.selectors import referral_code_normalize, user_get_by_referral_code

# --- The remembered code (signed cookie and session) ----------------------------
# Used by this view, by the sign-up view and by the Clerk sign-in middleware.

REFERRAL_COOKIE = "referral_code"
REFERRAL_SESSION_KEY = "referral_code"
_COOKIE_SALT = "referrals.link"


def referral_code_remember(request, response, code: str) -> None:
    request.session[REFERRAL_SESSION_KEY] = code
    # Signed, so a visitor cannot plant an arbitrary value that we would show
    # back; it is still only a hint, checked again at sign-up.
    response.set_signed_cookie(
        REFERRAL_COOKIE, code, salt=_COOKIE_SALT, max_age=settings.REFERRAL_COOKIE_MAX_AGE,
        httponly=True, samesite="Lax", secure=request.is_secure(),
    )


def referral_code_remembered(request) -> str | None:
    """The code from the session, else from the signed cookie, else None."""
    code = request.session.get(REFERRAL_SESSION_KEY)
    if not code:
        code = request.get_signed_cookie(REFERRAL_COOKIE, default=None, salt=_COOKIE_SALT,
                                         max_age=settings.REFERRAL_COOKIE_MAX_AGE)
    return code or None


def referral_code_forget(request, response) -> None:
    request.session.pop(REFERRAL_SESSION_KEY, None)
    if REFERRAL_COOKIE in request.COOKIES:
        response.delete_cookie(REFERRAL_COOKIE, samesite="Lax")


# --- Views ---------------------------------------------------------------------


@never_cache
@require_GET
def referral_link(request, code: str):
    if request.user.is_authenticated:
        # A user is referred only at sign-up; an existing account is never re-referred.
        messages.info(request, "You already have an account, so this invitation link does "
                               "not apply to you.")
        return redirect("home")
    referrer = user_get_by_referral_code(code=code)
    if referrer is None:
        messages.warning(request, "This invitation link is not valid (the referral code was "
                                  "not found). You can still sign up without it.")
        return redirect("accounts:signup")
    response = redirect("accounts:signup")
    referral_code_remember(request, response, referral_code_normalize(code))
    return response
