"""The referral code a visitor brought: remembered in the session and a signed cookie.

Set by the referral link (/r/<CODE>/), read by the sign-up page and the Clerk
sign-in middleware, forgotten once the account exists.
"""

from django.conf import settings

REFERRAL_COOKIE = "referral_code"
REFERRAL_SESSION_KEY = "referral_code"
_COOKIE_SALT = "referrals.link"


def referral_code_remember(request, response, code: str) -> None:
    request.session[REFERRAL_SESSION_KEY] = code
    # Signed, so a visitor cannot plant an arbitrary value that we would show
    # back; it is still only a hint, checked again at sign-up.
    response.set_signed_cookie(
        REFERRAL_COOKIE,
        code,
        salt=_COOKIE_SALT,
        max_age=settings.REFERRAL_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def referral_code_remembered(request) -> str | None:
    """The code from the session, else from the signed cookie, else None."""
    code = request.session.get(REFERRAL_SESSION_KEY)
    if not code:
        code = request.get_signed_cookie(
            REFERRAL_COOKIE,
            default=None,
            salt=_COOKIE_SALT,
            max_age=settings.REFERRAL_COOKIE_MAX_AGE,
        )
    return code or None


def referral_code_forget(request, response) -> None:
    request.session.pop(REFERRAL_SESSION_KEY, None)
    if REFERRAL_COOKIE in request.COOKIES:
        response.delete_cookie(REFERRAL_COOKIE, samesite="Lax")
