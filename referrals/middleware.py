"""Clerk sign-in: a valid Clerk session token signs its user in, and the
Django session it makes lives only as long as the Clerk session.

The first sign-in of a Clerk user is their sign-up, with the referral code
the visitor brought (referrals.clerk_signin), so this middleware lives with
sign-up with a code, in the referrals app.
"""

import logging

from accounts import clerk
from referrals.capture import referral_code_forget
from referrals.clerk_signin import (
    LINK_SESSION_KEY,
    SID_SESSION_KEY,
    clerk_session_check,
    clerk_sign_in,
)

logger = logging.getLogger("accounts.clerk")


class ClerkSessionMiddleware:
    """Sits after AuthenticationMiddleware; idle unless Clerk is configured.

    The ``__session`` cookie (same-origin browser) establishes a Django
    session, so later requests need no token; an ``Authorization: Bearer``
    token authenticates only the request that carries it. A bad, expired or
    foreign token is ignored with one log line: the visitor stays anonymous
    (or signed in as before) and never sees an error page because of it.
    A session made from a Clerk session is checked against Clerk every
    CLERK_SESSION_CHECK_SECONDS (clerk_signin.clerk_session_check).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        forget_referral = False
        request.clerk_outcome = None
        if clerk.is_configured():
            clerk_session_check(request)
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
        claims = clerk.unverified_claims(token)
        session = getattr(request, "session", None)
        user = request.user
        if (
            user.is_authenticated
            and user.clerk_user_id == claims.get("sub")
            and (
                from_header or session is None or session.get(SID_SESSION_KEY) == claims.get("sid")
            )
        ):
            # Already this Clerk session: nothing to grant, no need to verify.
            return False
        pending = session.get(LINK_SESSION_KEY) if session is not None else None
        if not from_header and pending and pending.get("sid") == claims.get("sid"):
            # Waiting for the local account's password (referrals.views.clerk_link).
            return False
        outcome = clerk_sign_in(request, token, from_header=from_header)
        request.clerk_outcome = outcome
        if outcome.user is None:
            if not outcome.link_pending:
                logger.info("clerk token rejected: %s", outcome.reason)
            return False
        return outcome.created and outcome.user.referred_by_id is not None
