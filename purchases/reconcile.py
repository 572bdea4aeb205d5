"""The purchases app's own repair, run by ``manage.py reconcile_credits``.

Every repair goes through the same idempotent services as the site, so
running it twice, or while the site is serving, repairs each thing at most
once. Purchases younger than the run's cutoff are left alone, and so are
their buyers' balances.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from credits.reconcile import ledger_keys_present
from purchases.gateways import CardDeclined, PaymentError
from purchases.models import IN_FLIGHT_STATUSES, ArchivedPurchase, Purchase, PurchaseStatus
from purchases.services import (
    SETTLED_STATUSES,
    purchase_abandon,
    purchase_qualifies_for_referral,
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
from referrals.selectors import referrals_owing_reward

logger = logging.getLogger(__name__)


def purchases_reconcile(run: RepairRun) -> None:
    """Interrupted purchases, credits owed back, and referral rewards owed by a first purchase."""
    # 1. Purchases stopped half-way: what the payment provider says decides
    #    (complete or roll back); a payment still waiting for the customer
    #    past STRIPE_PAYMENT_TIMEOUT_SECONDS is cancelled. Each on its own:
    #    one the provider cannot answer for is left for the next run.
    interrupted = run.finding("interrupted purchases")
    give_up_before = timezone.now() - timedelta(seconds=settings.STRIPE_PAYMENT_TIMEOUT_SECONDS)
    for purchase in Purchase.objects.filter(status__in=list(IN_FLIGHT_STATUSES)):
        if purchase.updated_at >= run.cutoff:
            run.busy_users.add(purchase.user_id)
            continue
        interrupted.items.append(purchase.pk)
        if not run.fix:
            continue
        try:
            purchase_resume(purchase=purchase, confirm=False)
            if purchase.status in IN_FLIGHT_STATUSES and purchase.created_at < give_up_before:
                purchase_abandon(purchase=purchase)
        except (PaymentError, CardDeclined) as exc:
            interrupted.unfixed.append(purchase.pk)
            logger.warning("purchase %s left for the next run: %s", purchase.pk, exc)
        if purchase.status in IN_FLIGHT_STATUSES:
            run.busy_users.add(purchase.user_id)

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
        # Archived ones too: archive_purchases may have moved one before it was repaired.
        purchases = [
            *Purchase.objects.filter(status=status, credits_used__gt=0),
            *ArchivedPurchase.objects.filter(status=status, credits_used__gt=0),
        ]
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
    referred = dict(
        filter_in(
            # Referrals closed without a reward (below the minimum, over the
            # cap, rejected), waiting for review or reversed owe nothing now.
            referrals_owing_reward().values_list("referred_user_id", "referrer_id"),
            "referred_user_id",
            {p.user_id for p in firsts},
        )
    )
    for purchase in firsts:
        if purchase.user_id not in referred or not purchase_qualifies_for_referral(purchase):
            continue
        unrewarded.items.append(purchase.pk)
        if run.fix:
            purchase_reward_referral(purchase=purchase, referrer_id=referred[purchase.user_id])
