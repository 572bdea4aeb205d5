"""Reads for referrals."""

from referrals.models import Referral


def referral_get_for_referred_user(*, referred_user_id) -> Referral | None:
    """The referral a user signed up through (at most one: unique referredUserId)."""
    try:
        return Referral.objects.get(referred_user_id=referred_user_id)
    except Referral.DoesNotExist:
        return None
