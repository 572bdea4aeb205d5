"""Find and repair what a crash between two steps can leave behind.

Used by ``manage.py reconcile_credits``. Every repair goes through the same
idempotent services as the site, so running it twice, or while the site is
serving, repairs each thing at most once. Purchases and users that are in
the middle of a checkout (younger than CHECKOUT_LEASE_SECONDS) are left alone.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from credits.models import EARNING_KINDS, CreditTransaction
from purchases.models import IN_FLIGHT_STATUSES, Purchase, PurchaseStatus
from purchases.services import (
    _refund_credits,
    _refund_key,
    _return_key,
    _return_spent_credits,
    _spend_key,
    purchase_resume,
)
from referral_site.batching import batched
from referrals.conversion import Conversion, referral_award, reward_key
from referrals.models import Referral, ReferralStatus
from referrals.services import referral_create


@dataclass
class BalanceDrift:
    user_id: object
    cached_credits: int
    ledger_credits: int
    cached_earned: int
    ledger_earned: int
    fixed: bool = False


@dataclass
class Report:
    interrupted_purchases: list = field(default_factory=list)
    unreturned_credits: list = field(default_factory=list)
    unrefunded_credits: list = field(default_factory=list)
    missing_conversions: list = field(default_factory=list)
    missing_awards: list = field(default_factory=list)
    balances: list[BalanceDrift] = field(default_factory=list)
    missing_referrals: list = field(default_factory=list)
    referral_counts: list = field(default_factory=list)
    busy_users: set = field(default_factory=set)

    @property
    def problems(self) -> int:
        return (len(self.interrupted_purchases) + len(self.unreturned_credits)
                + len(self.unrefunded_credits) + len(self.missing_conversions)
                + len(self.missing_awards) + len(self.balances)
                + len(self.missing_referrals) + len(self.referral_counts))

    def lines(self) -> list[str]:
        def line(label, items):
            return f"{label}: {len(items)}" + (
                f" ({', '.join(str(i) for i in items[:10])}{', ...' if len(items) > 10 else ''})"
                if items else "")

        return [
            line("referred users without their referral document", self.missing_referrals),
            line("referrers whose totalReferredUsers differs from their referrals",
                 [f"{u} {cached}->{actual}" for u, cached, actual in self.referral_counts]),
            line("interrupted purchases", self.interrupted_purchases),
            line("failed purchases whose credits were not returned", self.unreturned_credits),
            line("refunded purchases whose credits were not returned", self.unrefunded_credits),
            line("first purchases whose referral award is unfinished", self.missing_conversions),
            line("converted referrals missing an award", self.missing_awards),
            line("users whose cached credits differ from the ledger",
                 [f"{d.user_id} credits {d.cached_credits}->{d.ledger_credits} earned "
                  f"{d.cached_earned}->{d.ledger_earned}" for d in self.balances]),
        ]


def _existing_keys(keys: list[str]) -> set[str]:
    found = set()
    for batch in batched(keys):
        found.update(CreditTransaction.objects.filter(idempotency_key__in=batch).values_list(
            "idempotency_key", flat=True))
    return found


def reconcile(*, fix: bool, quiet_seconds: int | None = None) -> Report:
    """Find (and with ``fix`` repair) what interrupted work left behind.

    Only what has been quiet for ``quiet_seconds`` (default
    CHECKOUT_LEASE_SECONDS) is touched: a purchase still in its lease, a user
    whose balance or ledger moved recently, a referrer who was just counted,
    may be mid-way through a step that will finish by itself, and "repairing"
    it would race that step.
    """
    report = Report()
    if quiet_seconds is None:
        quiet_seconds = settings.CHECKOUT_LEASE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=quiet_seconds)

    # 0. Sign-up cut off between the user's insert and the referral's, or
    #    between the referral's insert and the referrer's count.
    _check_referrals(report, fix=fix, cutoff=cutoff)

    # 1. Purchases stopped half-way: complete or roll back.
    in_flight = Purchase.objects.filter(status__in=list(IN_FLIGHT_STATUSES))
    for purchase in in_flight:
        if purchase.updated_at >= cutoff:
            report.busy_users.add(purchase.user_id)
            continue
        report.interrupted_purchases.append(purchase.pk)
        if fix:
            purchase_resume(purchase=purchase)

    # 2. and 3. Credits that a failed or refunded purchase must give back.
    for status, key, bucket, repair in (
        (PurchaseStatus.FAILED, _return_key, report.unreturned_credits, _return_spent_credits),
        (PurchaseStatus.REFUNDED, _refund_key, report.unrefunded_credits, _refund_credits),
    ):
        purchases = list(Purchase.objects.filter(status=status, credits_used__gt=0))
        spent = _existing_keys([_spend_key(p.pk) for p in purchases])
        given_back = _existing_keys([key(p.pk) for p in purchases])
        for purchase in purchases:
            if _spend_key(purchase.pk) in spent and key(purchase.pk) not in given_back:
                bucket.append(purchase.pk)
                if fix:
                    repair(purchase)

    # 4. A first purchase completed but its referral not converted, or
    #    converted without the purchase marked as awarded.
    firsts = list(Purchase.objects.filter(
        is_first_purchase=True, referral_credit_awarded=False,
        status__in=[PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED]))
    referrals = {}
    for batch in batched({p.user_id for p in firsts}):
        for referral in Referral.objects.filter(referred_user_id__in=batch):
            referrals[referral.referred_user_id] = referral
    for purchase in firsts:
        referral = referrals.get(purchase.user_id)
        if referral is None:
            continue
        report.missing_conversions.append(purchase.pk)
        if fix and referral.status == ReferralStatus.PENDING:
            purchase_resume(purchase=purchase)
        elif fix:
            referral_award(conversion=Conversion(
                referral_id=referral.pk, referrer_id=referral.referrer_id,
                referred_user_id=referral.referred_user_id), purchase_id=purchase.pk)

    # 5. Converted referrals whose awards are not (all) in the ledger.
    converted = list(Referral.objects.filter(status=ReferralStatus.CONVERTED).values_list(
        "pk", "referrer_id", "referred_user_id"))
    expected = {}
    for referral_id, referrer_id, referred_id in converted:
        conversion = Conversion(referral_id=referral_id, referrer_id=referrer_id,
                                referred_user_id=referred_id)
        for user_id, amount in ((referrer_id, settings.REFERRAL_REWARD_REFERRER),
                                (referred_id, settings.REFERRAL_REWARD_REFERRED)):
            if amount > 0:
                expected[reward_key(referral_id, user_id)] = conversion
    present = _existing_keys(list(expected))
    incomplete = {c for key, c in expected.items() if key not in present}
    for conversion in incomplete:
        report.missing_awards.append(conversion.referral_id)
        if fix:
            first = Purchase.objects.filter(user_id=conversion.referred_user_id,
                                            is_first_purchase=True).values_list(
                "pk", flat=True).first()
            referral_award(conversion=conversion, purchase_id=first)

    # 6. Cached balances against the ledger (after the repairs above).
    _check_balances(report, fix=fix, cutoff=cutoff)
    return report


def _ledger_sums(match: dict | None = None) -> dict:
    pipeline = [
        *([{"$match": match}] if match else []),
        {"$group": {
            "_id": "$userId",
            "credits": {"$sum": "$amount"},
            "earned": {"$sum": {"$cond": [
                {"$and": [{"$gt": ["$amount", 0]},
                          {"$in": ["$kind", [str(k) for k in EARNING_KINDS]]}]},
                "$amount", 0]}},
        }},
    ]
    ledger = connection.get_collection(CreditTransaction._meta.db_table)
    return {row["_id"]: (row["credits"], row["earned"]) for row in ledger.aggregate(pipeline)}


def _check_balances(report: Report, *, fix: bool, cutoff) -> None:
    sums = _ledger_sums()
    # A grant writes its ledger entry before the balance, a spend its balance
    # before the entry: a user with either moving right now looks drifted.
    moving = set(CreditTransaction.objects.filter(created_at__gt=cutoff).values_list(
        "user_id", flat=True))
    users = User.objects.values_list("pk", "credits", "total_credits_earned", "updated_at")
    for user_id, credits, earned, updated_at in users.iterator():
        ledger_credits, ledger_earned = sums.get(user_id, (0, 0))
        if (credits, earned) == (ledger_credits, ledger_earned):
            continue
        if user_id in report.busy_users or user_id in moving or updated_at > cutoff:
            continue
        drift = BalanceDrift(user_id=user_id, cached_credits=credits,
                             ledger_credits=ledger_credits, cached_earned=earned,
                             ledger_earned=ledger_earned)
        report.balances.append(drift)
        if not fix:
            continue
        # Sum this user's ledger again now, then compare-and-set on what we
        # read: if anything moved since, a step is running; leave it.
        drift.ledger_credits, drift.ledger_earned = _ledger_sums({"userId": user_id}).get(
            user_id, (0, 0))
        if drift.ledger_credits >= 0:
            drift.fixed = bool(User.objects.filter(
                pk=user_id, credits=credits, total_credits_earned=earned,
                updated_at=updated_at).update(
                credits=drift.ledger_credits, total_credits_earned=drift.ledger_earned,
                updated_at=timezone.now()))


def _check_referrals(report: Report, *, fix: bool, cutoff) -> None:
    referred = dict(User.objects.filter(referred_by__isnull=False).values_list(
        "pk", "referred_by_id"))
    recorded = set()
    for batch in batched(referred):
        recorded.update(Referral.objects.filter(referred_user_id__in=batch).values_list(
            "referred_user_id", flat=True))
    joined_recently = set(User.objects.filter(
        referred_by__isnull=False, created_at__gt=cutoff).values_list("pk", flat=True))
    for user_id, referrer_id in referred.items():
        if user_id in recorded or user_id in joined_recently:
            continue
        report.missing_referrals.append(user_id)
        if fix:
            referral_create(referrer=User.objects.get(pk=referrer_id),
                            referred_user=User.objects.get(pk=user_id))

    counts = {row["_id"]: row["n"] for row in connection.get_collection(
        Referral._meta.db_table).aggregate([{"$group": {"_id": "$referrerId", "n": {"$sum": 1}}}])}
    # A referral is inserted before its referrer is counted.
    counting = set(Referral.objects.filter(created_at__gt=cutoff).values_list(
        "referrer_id", flat=True))
    for user_id, cached in User.objects.values_list("pk", "total_referred_users").iterator():
        actual = counts.get(user_id, 0)
        if cached == actual or user_id in counting:
            continue
        report.referral_counts.append((user_id, cached, actual))
        if fix:
            # Compare-and-set: a sign-up counting right now wins; rerun later.
            User.objects.filter(pk=user_id, total_referred_users=cached).update(
                total_referred_users=actual, updated_at=timezone.now())
