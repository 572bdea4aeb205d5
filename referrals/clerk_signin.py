"""Signing in with a Clerk session token: the first time is the sign-up.

Used by the middleware (any request carrying a ``__session`` cookie or a
Bearer token) and by the Clerk pages' return view. A token is turned into
a Django session tied to its Clerk session (``sid`` kept in the session and
in ``clerkSessions``); a Clerk user whose verified primary e-mail belongs to
a password account here is not signed in but asked for that password first
(``LINK_SESSION_KEY``), see referrals.views.clerk_link.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError

from accounts import clerk
from accounts.backends import SESSION_BACKEND
from accounts.models import User
from accounts.origin import request_origin
from accounts.selectors import user_get_by_clerk_user_id, user_get_by_email
from accounts.services import (
    LOCAL_ID_PREFIX,
    clerk_name_from_claims,
    clerk_session_end,
    clerk_session_is_ended,
    clerk_session_record,
)
from referral_site.exceptions import ApplicationError
from referrals.capture import referral_code_remembered
from referrals.services import user_get_or_create_for_clerk

logger = logging.getLogger("accounts.clerk")

# Keys in the Django session.
SID_SESSION_KEY = clerk.SID_SESSION_KEY
CHECKED_SESSION_KEY = "clerk_checked_at"  # epoch seconds of the last status check
LINK_SESSION_KEY = "clerk_link"
LINK_TTL_SECONDS = 15 * 60


@dataclass(frozen=True)
class Outcome:
    user: User | None = None
    created: bool = False
    link_pending: bool = False
    reason: str = ""


def _pending_link(request, *, claims: dict, name: str, email: str, account: User) -> Outcome:
    if hasattr(request, "session"):
        request.session[LINK_SESSION_KEY] = {
            "sub": claims["sub"],
            "sid": claims["sid"],
            "name": name,
            "email": email,
            "userId": str(account.pk),
            "at": int(time.time()),
        }
    logger.info("clerk sign-in waits for the local account's password")
    return Outcome(link_pending=True, reason="link pending")


def clerk_session_start(request, *, user: User, sid: str) -> bool:
    """Log ``user`` in and tie the new Django session to Clerk session ``sid``.

    False (and signed out again) when the Clerk session was ended meanwhile:
    a webhook that lands between the check and the record wins.
    """
    login(request, user, backend=SESSION_BACKEND)
    request.session[SID_SESSION_KEY] = sid
    request.session[CHECKED_SESSION_KEY] = int(time.time())
    request.session.pop(LINK_SESSION_KEY, None)
    if request.session.session_key is None:
        request.session.save()
    record = clerk_session_record(
        session_id=sid, user=user, session_key=request.session.session_key
    )
    if record.ended_at is not None:
        logout(request)
        return False
    return True


def clerk_sign_in(request, token: str, *, from_header: bool = False) -> Outcome:
    """Verify ``token`` and sign its user in (creating or linking the account first)."""
    try:
        claims = clerk.verify(token)
    except clerk.TokenRejected as exc:
        return Outcome(reason=exc.reason)
    sub, sid = claims["sub"], claims["sid"]
    if clerk_session_is_ended(session_id=sid):
        # Signed out here or ended in Clerk: its tokens live on for a minute.
        return Outcome(reason="session ended")
    name = clerk_name_from_claims(claims)
    user = user_get_by_clerk_user_id(clerk_user_id=sub)
    created = False
    if user is None:
        email = None
        if clerk.has_backend_api():
            try:
                profile = clerk.clerk_user_profile(clerk_user_id=sub)
            except clerk.ClerkUserMissing:
                return Outcome(reason="unknown Clerk user")
            except clerk.ClerkUnavailable as exc:
                # Without the address the linking rule cannot be applied: no
                # new account now rather than a duplicate of an existing one.
                logger.warning("clerk sign-in postponed: %s", exc)
                return Outcome(reason="Clerk unavailable")
            email = profile.verified_email
            name = profile.name or name
        existing = user_get_by_email(email=email) if email else None
        if existing is not None:
            if existing.is_active and existing.clerk_user_id.startswith(LOCAL_ID_PREFIX):
                return _pending_link(
                    request, claims=claims, name=name, email=email, account=existing
                )
            email = None  # another Clerk user's, or a disabled account's: not shared
        code = referral_code_remembered(request) if hasattr(request, "session") else None
        try:
            user, created = user_get_or_create_for_clerk(
                clerk_user_id=sub,
                name=name,
                email=email,
                referral_code=code,
                origin=request_origin(request),
            )
        except (ApplicationError, ValidationError):
            logger.warning("clerk token rejected: unusable subject")
            return Outcome(reason="unusable subject")
        if created:
            logger.info("clerk user created: %s", user.pk)
    if not user.is_active:
        return Outcome(reason="account inactive")
    if from_header:
        # Bearer: this request only, no session.
        request.user = user
        request._cached_user = user

        async def auser():
            return user

        request.auser = auser
    elif not clerk_session_start(request, user=user, sid=sid):
        return Outcome(reason="session ended")
    return Outcome(user=user, created=created)


def clerk_session_check(request) -> bool:
    """Ask Clerk, at most every CLERK_SESSION_CHECK_SECONDS, whether this session's Clerk
    session is still active; end the Django session when it is not. True when ended.

    Never on every request: the time of the last answer is kept in the
    session. When Clerk cannot be asked, the session goes on and the next
    check waits a full interval (an outage of Clerk does not sign everybody out).
    """
    session = getattr(request, "session", None)
    sid = session.get(SID_SESSION_KEY) if session is not None else None
    if not sid or not clerk.has_backend_api():
        return False
    now = int(time.time())
    if now - int(session.get(CHECKED_SESSION_KEY) or 0) < settings.CLERK_SESSION_CHECK_SECONDS:
        return False
    try:
        status = clerk.clerk_session_status(session_id=sid)
    except clerk.ClerkUnavailable as exc:
        logger.warning("clerk session check skipped: %s", exc)
        session[CHECKED_SESSION_KEY] = now
        return False
    if status == "active":
        session[CHECKED_SESSION_KEY] = now
        return False
    logger.info("clerk session no longer active: %s", status)
    clerk_session_end(session_id=sid)
    logout(request)
    return True
