"""Writes for referrals.

Referral capture (issue 3): ``referral_create`` records the pending referral
made at sign-up. Conversion on the first purchase lives further down (later).
"""

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from referral_site.exceptions import ApplicationError
from referrals.models import Referral, ReferralStatus
from referrals.selectors import referral_get_for_referred_user


class SelfReferral(ApplicationError):
    pass


class ReferralMismatch(ApplicationError):
    pass


# --- Capture at sign-up ---------------------------------------------------------


def referral_create(*, referrer: User, referred_user: User) -> Referral:
    """Record that ``referrer`` brought ``referred_user``; exactly once per user.

    Idempotent: the unique index on referredUserId refuses a second document,
    and that refusal means "already done": the existing referral is returned
    and the referrer's counter is not moved again. So a retried or doubly
    submitted sign-up, and a repair run for a user whose referredBy is set but
    whose referral is missing (a crash between the two inserts), all end with
    one referral and one count.

    ``referred_user.referred_by`` must already be ``referrer``: referredBy is
    written when the user is created, at sign-up, and is the record a repair
    works from.
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
