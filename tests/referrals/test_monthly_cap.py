"""REFERRAL_MONTHLY_CAP: rewarded conversions per referrer per calendar month."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.core.management import call_command
from django.db import connections

from credits.models import CreditTransaction
from referrals.models import NotRewarded, Referral, ReferralStatus
from referrals.services import referral_create
from tests.shopping import buy


def friend(user_factory, referrer, n):
    buyer = user_factory(name=f"Friend {n}", referred_by=referrer)
    referral_create(referrer=referrer, referred_user=buyer)
    return buyer


def test_conversions_over_the_cap_convert_without_reward(
    client, settings, referrer, user_factory, product_factory
):
    settings.REFERRAL_MONTHLY_CAP = 1
    product = product_factory(price=Decimal("20.00"))
    first, second = friend(user_factory, referrer, 1), friend(user_factory, referrer, 2)

    buy(first, product)
    buy(second, product)

    rewarded = Referral.objects.get(referred_user=first)
    capped = Referral.objects.get(referred_user=second)
    referrer.refresh_from_db()
    assert (rewarded.status, rewarded.credits_awarded) == (ReferralStatus.CONVERTED, True)
    assert (capped.status, capped.credits_awarded) == (ReferralStatus.CONVERTED, False)
    assert capped.not_rewarded_reason == NotRewarded.MONTHLY_CAP
    assert referrer.credits == settings.REFERRAL_REWARD_REFERRER
    assert not CreditTransaction.objects.filter(referral=capped).exists()
    call_command("reconcile_credits", "--check", "--quiet-seconds", "0", verbosity=0)
    client.force_login(referrer)
    assert (
        "this month&#x27;s limit of rewards was already reached"
        in client.get("/dashboard/").content.decode()
    )


def test_racing_conversions_never_exceed_the_cap(settings, referrer, user_factory, product_factory):
    settings.REFERRAL_MONTHLY_CAP = 2
    product = product_factory(price=Decimal("20.00"))
    buyers = [friend(user_factory, referrer, n) for n in range(6)]
    barrier = threading.Barrier(len(buyers))

    def first_purchase(buyer):
        barrier.wait()
        try:
            buy(buyer, product)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
        list(pool.map(first_purchase, buyers))

    referrals = Referral.objects.filter(referrer=referrer)
    assert all(r.status == ReferralStatus.CONVERTED for r in referrals)
    assert sum(r.credits_awarded for r in referrals) == 2
    assert CreditTransaction.objects.filter(kind="referral_reward_referrer").count() == 2
