"""Clerk sign-in: a valid Clerk session token signs its user in.

The first sign-in of a Clerk user is their sign-up, with the referral code
the visitor brought (referrals.services.user_get_or_create_for_clerk), so
this middleware lives with sign-up with a code, in the referrals app.
"""

import logging

from django.contrib.auth import login
from django.core.exceptions import ValidationError

from accounts import clerk
from accounts.backends import SESSION_BACKEND
from accounts.origin import request_origin
from accounts.services import clerk_name_from_claims
from referral_site.exceptions import ApplicationError
from referrals.capture import referral_code_forget, referral_code_remembered
from referrals.services import user_get_or_create_for_clerk

logger = logging.getLogger("accounts.clerk")


class ClerkSessionMiddleware:
    """Sits after AuthenticationMiddleware; idle unless Clerk is configured.

    The ``__session`` cookie (same-origin browser) establishes a Django
    session, so later requests need no token; an ``Authorization: Bearer``
    token authenticates only the request that carries it. A bad, expired or
    foreign token is ignored with one log line: the visitor stays anonymous
    (or signed in as before) and never sees an error page because of it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        forget_referral = False
        if clerk.is_configured():
            forget_referral = self._authenticate(request)
        response = self.get_response(request)
        if forget_referral:
            referral_code_forget(request, response)
        return response

    def _authenticate(self, request) -> bool:
        """Sign the token's user in; True when a referred user was just created."""
        token, from_header = clerk.token_from_request(request)
        if not token:
            return False
        user = request.user
        if user.is_authenticated and user.clerk_user_id == clerk.unverified_subject(token):
            # Already this Clerk user: nothing to grant, no need to verify.
            return False
        try:
            claims = clerk.verify(token)
        except clerk.TokenRejected as exc:
            logger.info("clerk token rejected: %s", exc.reason)
            return False
        code = referral_code_remembered(request) if hasattr(request, "session") else None
        try:
            user, created = user_get_or_create_for_clerk(
                clerk_user_id=claims["sub"],
                name=clerk_name_from_claims(claims),
                referral_code=code,
                origin=request_origin(request),
            )
        except (ApplicationError, ValidationError):
            # e.g. a sub longer than the field allows
            logger.warning("clerk token rejected: unusable subject")
            return False
        if not user.is_active:
            logger.info("clerk token rejected: account inactive")
            return False
        if created:
            logger.info("clerk user created: %s", user.pk)
        if from_header:
            # Bearer: this request only, no session.
            request.user = user
            request._cached_user = user

            async def auser():
                return user

            request.auser = auser
        else:
            login(request, user, backend=SESSION_BACKEND)
        return created and user.referred_by_id is not None
