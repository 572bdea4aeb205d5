"""Writes for referrals: sign-up with a code, and the referral it records.

``user_signup`` (the sign-up form) and ``user_get_or_create_for_clerk`` (the
first Clerk sign-in) create the user through accounts.services.user_create
with referredBy set, then ``referral_create`` records the pending referral.
Conversion on the first purchase is in referrals.conversion.
"""

from datetime import UTC

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.origin import Origin
from accounts.selectors import (
    referral_code_normalize,
    user_get_by_clerk_user_id,
    user_get_by_email,
    user_get_by_referral_code,
)
from accounts.services import CLERK_DEFAULT_NAME, ClerkUserTaken, EmailTaken, user_create
from referral_site.db.collections import collection
from referral_site.exceptions import ApplicationError
from referrals.abuse import signup_signals
from referrals.models import Referral, ReferralLinkDay, ReferralStatus
from referrals.selectors import referral_get_for_referred_user


class SelfReferral(ApplicationError):
    pass


class ReferralMismatch(ApplicationError):
    pass


class ReferralCodeUnknown(ApplicationError):
    pass


# --- Capture at sign-up ---------------------------------------------------------


def referral_link_opened(*, now=None) -> None:
    """Count one opening of a valid referral link today (one upsert, no read)."""
    day = (now or timezone.now()).astimezone(UTC).strftime("%Y-%m-%d")
    collection(ReferralLinkDay).update_one({"day": day}, {"$inc": {"opens": 1}}, upsert=True)


def referral_create(
    *, referrer: User, referred_user: User, signals: list[str] | None = None
) -> Referral:
    """Record that ``referrer`` brought ``referred_user``; exactly once per user.

    Idempotent: the unique index on referredUserId refuses a second document,
    and that refusal means "already done": the existing referral is returned
    and the referrer's counter is not moved again. So a retried or doubly
    submitted sign-up, and a repair run for a user whose referredBy is set but
    whose referral is missing (a crash between the two inserts), all end with
    one referral and one count.

    ``referred_user.referred_by`` must already be ``referrer``: referredBy is
    written when the user is created, at sign-up, and is the record a repair
    works from. ``signals`` are the sign-up's abuse signals (referrals.abuse),
    checked again at conversion.
    """
    if referrer.pk == referred_user.pk:
        raise SelfReferral("You cannot use your own referral code.", field="referral_code")
    if referred_user.referred_by_id != referrer.pk:
        raise ReferralMismatch("A referral must match the user's referredBy.")
    referral = Referral(
        referrer=referrer,
        referred_user=referred_user,
        status=ReferralStatus.PENDING,
        credits_awarded=False,
        signals=list(signals or []),
    )
    try:
        referral.save(force_insert=True)
    except IntegrityError:
        # Unique referredUserId (and {referrerId, referredUserId}): another call
        # inserted it and counted it; doing either again would double count.
        existing = referral_get_for_referred_user(referred_user_id=referred_user.pk)
        if existing is None:  # not a duplicate after all
            raise
        return existing
    # Only the call whose insert succeeded counts it, with an atomic $inc
    # (no read-modify-write). A crash right here leaves the count one short;
    # it stays reconcilable as the number of referrals with this referrerId.
    User.objects.filter(pk=referrer.pk).update(
        total_referred_users=F("total_referred_users") + 1, updated_at=timezone.now()
    )
    return referral


# --- Sign-up with a code ----------------------------------------------------------


def user_signup(
    *,
    name: str,
    email: str,
    password: str,
    referral_code: str | None = None,
    origin: Origin | None = None,
) -> User:
    """Sign-up from the site: a local account, referred when a code is given.

    Steps, each safe to repeat (no multi-document transaction):
    1. resolve the code (unknown -> ReferralCodeUnknown on the field);
    2. insert the user with referredBy set; the unique e-mail index stops a
       second account;
    3. insert the pending referral and count it (referrals.services.referral_create,
       idempotent through the unique index on referredUserId).

    A repeat with the same e-mail and the right password (a double submit, or
    a retry after a crash between steps 2 and 3) returns the existing account,
    after finishing step 3 for it, instead of failing. With any other password
    it is EmailTaken, exactly as a stranger would see.
    """
    referrer = None
    if referral_code_normalize(referral_code):
        referrer = user_get_by_referral_code(code=referral_code)
        if referrer is None:
            raise ReferralCodeUnknown(
                "No account has this referral code. Check it, or leave the field empty.",
                field="referral_code",
            )
    try:
        user = user_create(email=email, password=password, name=name, referred_by=referrer)
    except EmailTaken:
        existing = user_get_by_email(email=email)
        if existing is None or not existing.is_active or not existing.check_password(password):
            raise
        # Same credentials: this is the same person's repeated submit. Whether
        # they are referred was decided by the first submit (referredBy is set
        # only at creation); a code in this one is ignored.
        if existing.referred_by_id is not None:
            referral_create(referrer=existing.referred_by, referred_user=existing)
        return existing
    if referrer is not None:
        signals = signup_signals(
            referrer=referrer, email=user.email, origin=origin, now=timezone.now()
        )
        referral_create(referrer=referrer, referred_user=user, signals=signals)
    return user


def user_get_or_create_for_clerk(
    *,
    clerk_user_id: str,
    name: str,
    email: str | None = None,
    referral_code: str | None = None,
    origin: Origin | None = None,
) -> tuple[User, bool]:
    """The user with this clerkUserId, created on first sight; ``(user, created)``.

    A new user gets a referral code like any other and, when the visitor came
    through a referral link, is referred (their sign-up happens here). An
    unknown remembered code is ignored: there is no form to report it on.
    ``email`` is the Clerk user's verified primary address (Backend API),
    stored when no account here has it yet; the caller decides about linking
    an account that has it (only after its password is entered).
    """
    user = user_get_by_clerk_user_id(clerk_user_id=clerk_user_id)
    if user is not None:
        return user, False
    referrer = user_get_by_referral_code(code=referral_code) if referral_code else None
    try:
        try:
            user = user_create(
                email=email,
                password=None,
                name=name or CLERK_DEFAULT_NAME,
                clerk_user_id=clerk_user_id,
                referred_by=referrer,
            )
        except EmailTaken:
            # An account took the address meanwhile: this one goes without it.
            user = user_create(
                email=None,
                password=None,
                name=name or CLERK_DEFAULT_NAME,
                clerk_user_id=clerk_user_id,
                referred_by=referrer,
            )
    except ClerkUserTaken:
        # A concurrent first request inserted it; the unique index picked that one.
        user = User.objects.get(clerk_user_id=clerk_user_id)
        if user.referred_by_id is not None:
            referral_create(referrer=user.referred_by, referred_user=user)
        return user, False
    if referrer is not None:
        signals = signup_signals(
            referrer=referrer, email=user.email, origin=origin, now=timezone.now()
        )
        referral_create(referrer=referrer, referred_user=user, signals=signals)
    return user, True
