"""Writes for users: creation with a unique referral code, profile and password.

Sign-up from the site (with or without a referral code) is the referrals
app's: it creates the user through ``user_create`` and records the referral.
"""

import logging
import unicodedata
from importlib import import_module

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import ClerkSession, ClerkUserTaken, EmailTaken, User
from referral_site.db.errors import duplicate_key_field
from referral_site.exceptions import ApplicationError

logger = logging.getLogger("accounts.clerk")

__all__ = [
    "ClerkUserTaken",
    "EmailTaken",
    "clerk_name_from_claims",
    "clerk_session_end",
    "clerk_session_record",
    "user_link_clerk",
    "user_sync_from_clerk",
    "user_create",
    "user_password_set",
    "user_update_profile",
]

# Name given to a Clerk user whose token carries no name claims (name is required).
CLERK_DEFAULT_NAME = "Member"
NAME_MAX_LENGTH = User._meta.get_field("name").max_length


def user_create(
    *,
    email: str | None,
    password: str | None,
    name: str = "",
    clerk_user_id: str | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
    referred_by: User | None = None,
) -> User:
    """Create a user with a fresh referral code (UserManager.create_user retries collisions).

    Raises EmailTaken or ClerkUserTaken when the unique index says the e-mail
    address or the Clerk user already has an account.
    """
    return User.objects.create_user(
        email,
        password,
        name=name,
        clerk_user_id=clerk_user_id,
        is_staff=is_staff,
        is_superuser=is_superuser,
        referred_by=referred_by,
    )


def clerk_name_from_claims(claims: dict) -> str:
    """A display name from a Clerk token's optional claims, or the default."""

    def text(key: str) -> str:
        value = claims.get(key)
        return value if isinstance(value, str) else ""

    candidates = [
        text("name"),
        f"{text('first_name')} {text('last_name')}",
        f"{text('given_name')} {text('family_name')}",
    ]
    for candidate in candidates:
        printable = "".join(ch for ch in candidate if unicodedata.category(ch) != "Cc")
        if printable.strip():
            return " ".join(printable.split())[:NAME_MAX_LENGTH]
    return CLERK_DEFAULT_NAME


def user_password_set(*, user: User, password: str) -> User:
    user.set_password(password)
    # Only these columns: a full save() would write back credits and counters
    # as they were read at the start of the request, undoing any award made
    # in the meantime (ARCHITECTURE.md section 4).
    user.save(update_fields=["password", "updated_at"])
    return user


def user_update_profile(*, user: User, fields: list[str]) -> User:
    """Save the named editable columns of ``user`` (admin change form), nothing else."""
    allowed = {"name", "email", "is_active", "is_staff", "is_superuser"}
    update_fields = sorted(allowed.intersection(fields))
    if update_fields:
        try:
            user.save(update_fields=[*update_fields, "updated_at"])
        except IntegrityError as exc:
            if duplicate_key_field(exc) == "email":
                raise EmailTaken(
                    "An account with this e-mail address already exists.", field="email"
                ) from exc
            raise
    return user


# --- Clerk: sessions, profile sync, linking ------------------------------------------

LOCAL_ID_PREFIX = "local_"


class LinkRefused(ApplicationError):
    pass


def clerk_session_record(*, session_id: str, user: User, session_key: str) -> ClerkSession:
    """Remember which Django session a Clerk session made (one document per Clerk session).

    An insert guarded by the unique sessionId; a repeat (the same Clerk
    session signing in again in a new browser session) points it at the new
    Django session, unless the session has ended meanwhile.
    """
    try:
        return ClerkSession.objects.create(
            session_id=session_id, user=user, session_key=session_key
        )
    except IntegrityError:
        ClerkSession.objects.filter(session_id=session_id, ended_at=None).update(
            user=user, session_key=session_key
        )
        return ClerkSession.objects.get(session_id=session_id)


def clerk_session_end(*, session_id: str, user: User | None = None) -> bool:
    """Clerk says the session is over: refuse its tokens from now on and end its Django session.

    Safe to repeat (webhook retries, a sign-out racing a webhook): the
    conditional update sets endedAt once, and deleting a Django session
    that is already gone does nothing. A session never seen here is recorded
    as ended when its user is known, so a token of it that arrives later is
    refused. True when this call ended it.
    """
    now = timezone.now()
    ended = ClerkSession.objects.filter(session_id=session_id, ended_at=None).update(ended_at=now)
    keys = list(
        ClerkSession.objects.filter(session_id=session_id).values_list("session_key", flat=True)
    )
    if not keys:
        if user is None:
            return False
        try:
            ClerkSession.objects.create(session_id=session_id, user=user, ended_at=now)
        except IntegrityError:
            # Signed in with it a moment ago: end that one.
            return clerk_session_end(session_id=session_id)
        return True
    if keys[0]:
        # Also on a repeat: a run that stopped after the update still ends it.
        import_module(settings.SESSION_ENGINE).SessionStore().delete(keys[0])
    if ended:
        logger.info("clerk session ended")
    return bool(ended)


def clerk_session_is_ended(*, session_id: str) -> bool:
    return ClerkSession.objects.filter(session_id=session_id).exclude(ended_at=None).exists()


def user_sync_from_clerk(*, user: User, name: str, verified_email: str | None) -> User:
    """Take the name and the verified primary e-mail Clerk holds (user.created / user.updated).

    Only these two fields, in one conditional update, so a concurrent award
    to credits is never overwritten. An address that another account here
    already has is left alone (that account's owner links with its password).
    """
    changes = {}
    if name.strip():
        # The same cleaning as a token's name claims (no control characters).
        changes["name"] = clerk_name_from_claims({"name": name})
    if verified_email and verified_email != user.email:
        changes["email"] = verified_email
    if not changes:
        return user
    changes["updated_at"] = timezone.now()
    try:
        User.objects.filter(pk=user.pk, clerk_user_id=user.clerk_user_id).update(**changes)
    except IntegrityError as exc:
        if duplicate_key_field(exc) != "email":
            raise
        changes.pop("email")
        User.objects.filter(pk=user.pk, clerk_user_id=user.clerk_user_id).update(**changes)
    user.refresh_from_db()
    return user


def user_link_clerk(*, user: User, clerk_user_id: str) -> User:
    """Give a password account its Clerk identity (after its password was entered).

    A compare-and-set from the account's placeholder ``local_`` id: an
    account already linked to a Clerk user is never re-linked, and of two
    concurrent links exactly one wins.
    """
    try:
        linked = User.objects.filter(
            pk=user.pk, clerk_user_id__startswith=LOCAL_ID_PREFIX, is_active=True
        ).update(clerk_user_id=clerk_user_id, updated_at=timezone.now())
    except IntegrityError as exc:
        raise ClerkUserTaken("This Clerk user already has an account.") from exc
    if not linked:
        raise LinkRefused("This account is already linked to another sign-in.")
    user.refresh_from_db()
    return user
