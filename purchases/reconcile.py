"""The purchases app's own repair, run by ``manage.py reconcile_credits``.

Every repair goes through the same idempotent services as the site, so
running it twice, or while the site is serving, repairs each thing at most
once. Purchases younger than the run's cutoff are left alone, and so are
their buyers' balances.
"""

from credits.reconcile import ledger_keys_present
from purchases.models import IN_FLIGHT_STATUSES, Purchase, PurchaseStatus
from purchases.services import (
    SETTLED_STATUSES,
    purchase_refund_credits,
    purchase_refund_key,
    purchase_resume,
    purchase_return_spent_credits,
    purchase_reward_referral,
    purchase_spend_key,
    purchase_spend_return_key,
)
from referral_site.batching import filter_in
from referral_site.repair import RepairRun
from referrals.models import Referral


def purchases_reconcile(run: RepairRun) -> None:
    """Interrupted purchases, credits owed back, and referral rewards owed by a first purchase."""
    # 1. Purchases stopped half-way: complete or roll back.
    interrupted = run.finding("interrupted purchases")
    for purchase in Purchase.objects.filter(status__in=list(IN_FLIGHT_STATUSES)):
        if purchase.updated_at >= run.cutoff:
            run.busy_users.add(purchase.user_id)
            continue
        interrupted.items.append(purchase.pk)
        if run.fix:
            purchase_resume(purchase=purchase)

    # 2. and 3. Credits that a failed or refunded purchase must give back.
    for status, key, label, repair in (
        (
            PurchaseStatus.FAILED,
            purchase_spend_return_key,
            "failed purchases whose credits were not returned",
            purchase_return_spent_credits,
        ),
        (
            PurchaseStatus.REFUNDED,
            purchase_refund_key,
            "refunded purchases whose credits were not returned",
            purchase_refund_credits,
        ),
    ):
        owed = run.finding(label)
        purchases = list(Purchase.objects.filter(status=status, credits_used__gt=0))
        spent = ledger_keys_present([purchase_spend_key(p.pk) for p in purchases])
        given_back = ledger_keys_present([key(p.pk) for p in purchases])
        for purchase in purchases:
            if purchase_spend_key(purchase.pk) in spent and key(purchase.pk) not in given_back:
                owed.items.append(purchase.pk)
                if run.fix:
                    repair(purchase)

    # 4. A referred buyer's first purchase completed, its referral reward unfinished.
    unrewarded = run.finding("first purchases whose referral award is unfinished")
    firsts = list(
        Purchase.objects.filter(
            is_first_purchase=True, referral_credit_awarded=False, status__in=list(SETTLED_STATUSES)
        )
    )
    referred = set(
        filter_in(
            Referral.objects.values_list("referred_user_id", flat=True),
            "referred_user_id",
            {p.user_id for p in firsts},
        )
    )
    for purchase in firsts:
        if purchase.user_id not in referred:
            continue
        unrewarded.items.append(purchase.pk)
        if run.fix:
            purchase_reward_referral(purchase=purchase, buyer_referred=True)
