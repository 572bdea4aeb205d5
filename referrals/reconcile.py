"""The referrals app's own repair, run by ``manage.py reconcile_credits``.

* sign-ups cut off between the user's insert and the referral's, or between
  the referral's insert and the referrer's count (``signups_reconcile``);
* converted referrals whose rewards are not (all) in the ledger
  (``awards_reconcile``), run after the purchases' repair has finished the
  conversions it owes;
* reversed referrals whose rewards were not all taken back
  (``reversals_reconcile``).
"""

from collections.abc import Callable

from bson import ObjectId
from django.utils import timezone

from accounts.models import User
from credits.models import CreditTransaction, Kind
from credits.reconcile import ledger_keys_present
from referral_site.batching import filter_in
from referral_site.db.collections import collection
from referral_site.repair import RepairRun
from referrals.conversion import (
    Conversion,
    referral_award,
    referral_clawback_key,
    referral_hold_end_key,
    referral_reward_grants,
    referral_take_back,
)
from referrals.models import Referral, ReferralStatus
from referrals.selectors import referrals_owing_reward
from referrals.services import referral_create


def signups_reconcile(run: RepairRun) -> None:
    missing = run.finding("referred users without their referral document")
    miscounted = run.finding("referrers whose totalReferredUsers differs from their referrals")
    referred = dict(
        User.objects.filter(referred_by__isnull=False).values_list("pk", "referred_by_id")
    )
    recorded = set(
        filter_in(
            Referral.objects.values_list("referred_user_id", flat=True),
            "referred_user_id",
            referred,
        )
    )
    joined_recently = set(
        User.objects.filter(referred_by__isnull=False, created_at__gt=run.cutoff).values_list(
            "pk", flat=True
        )
    )
    for user_id, referrer_id in referred.items():
        if user_id in recorded or user_id in joined_recently:
            continue
        missing.items.append(user_id)
        if run.fix:
            referral_create(
                referrer=User.objects.get(pk=referrer_id),
                referred_user=User.objects.get(pk=user_id),
            )

    counts = {
        row["_id"]: row["n"]
        for row in collection(Referral).aggregate(
            [{"$group": {"_id": "$referrerId", "n": {"$sum": 1}}}]
        )
    }
    # A referral is inserted before its referrer is counted.
    counting = set(
        Referral.objects.filter(created_at__gt=run.cutoff).values_list("referrer_id", flat=True)
    )
    for user_id, cached in User.objects.values_list("pk", "total_referred_users").iterator():
        actual = counts.get(user_id, 0)
        if cached == actual or user_id in counting:
            continue
        miscounted.items.append(f"{user_id} {cached}->{actual}")
        if run.fix:
            # Compare-and-set: a sign-up counting right now wins; rerun later.
            User.objects.filter(pk=user_id, total_referred_users=cached).update(
                total_referred_users=actual, updated_at=timezone.now()
            )


def awards_reconcile(
    run: RepairRun, *, purchase_id_for: Callable[[ObjectId], ObjectId | None]
) -> None:
    """Converted referrals missing a reward entry; ``purchase_id_for`` names the
    referred user's qualifying purchase (the purchases app knows it)."""
    found = run.finding("converted referrals missing an award")
    converted = (
        referrals_owing_reward()
        .filter(status=ReferralStatus.CONVERTED)
        .values_list("pk", "referrer_id", "referred_user_id", "reward_held_until")
    )
    expected = {}
    for referral_id, referrer_id, referred_id, held_until in converted:
        conversion = Conversion(
            referral_id=referral_id,
            referrer_id=referrer_id,
            referred_user_id=referred_id,
            held_until=held_until,
        )
        for grant in referral_reward_grants(conversion=conversion, purchase_id=None):
            expected[grant.idempotency_key] = conversion
    present = ledger_keys_present(list(expected))
    incomplete = {c for key, c in expected.items() if key not in present}
    for conversion in incomplete:
        found.items.append(conversion.referral_id)
        if run.fix:
            referral_award(
                conversion=conversion, purchase_id=purchase_id_for(conversion.referred_user_id)
            )


def reversals_reconcile(run: RepairRun) -> None:
    """Reversed referrals with a reward still standing: the take-back is finished."""
    found = run.finding("reversed referrals whose rewards were not all taken back")
    reversed_ = {
        r.pk: r
        for r in Referral.objects.filter(reversed_at__isnull=False, reversed_at__lte=run.cutoff)
    }
    if not reversed_:
        return
    entries = {
        e.idempotency_key: e
        for e in filter_in(CreditTransaction.objects.all(), "referral_id", list(reversed_))
    }
    for referral in reversed_.values():
        conversion = Conversion(
            referral_id=referral.pk,
            referrer_id=referral.referrer_id,
            referred_user_id=referral.referred_user_id,
            held_until=referral.reward_held_until,
        )
        standing = False
        for grant in referral_reward_grants(conversion=conversion, purchase_id=None):
            reward = entries.get(grant.idempotency_key)
            if reward is None:
                continue
            end = entries.get(referral_hold_end_key(referral.pk, grant.user_id))
            taken = entries.get(referral_clawback_key(referral.pk, grant.user_id))
            released = reward.held_amount <= 0 or (end and end.kind == Kind.REWARD_RELEASE)
            if (reward.held_amount > 0 and end is None) or (released and taken is None):
                standing = True
        if not standing:
            continue
        found.items.append(referral.pk)
        if run.fix:
            referral_take_back(conversion, purchase_id=None)
