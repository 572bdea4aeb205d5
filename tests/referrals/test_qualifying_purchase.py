"""A referral converts only on a first purchase paying at least the qualifying amount by card."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from credits.models import CreditTransaction
from referrals.models import NotRewarded, Referral, ReferralStatus
from tests.shopping import buy, give_credits


def test_a_first_purchase_below_the_minimum_is_first_but_converts_nothing_ever(
    client, referrer, referred, product_factory
):
    give_credits(referred, 2)
    first = buy(referred, product_factory(price=Decimal("24.99")), credits=2)  # $4.99 by card
    later = buy(referred, product_factory(price=Decimal("50.00")))

    referral = Referral.objects.get(referred_user=referred)
    assert first.is_first_purchase and not first.referral_credit_awarded
    assert not later.is_first_purchase
    assert referral.status == ReferralStatus.PENDING
    assert referral.not_rewarded_reason == NotRewarded.BELOW_MINIMUM
    assert not CreditTransaction.objects.filter(kind__startswith="referral_reward").exists()
    call_command("reconcile_credits", "--check", "--quiet-seconds", "0", verbosity=0)

    client.force_login(referrer)
    assert (
        "Not rewarded: the first purchase was under $5.00 by card"
        in client.get("/dashboard/").content.decode()
    )


@pytest.mark.parametrize(("price", "credits", "rewarded"), [("25.00", 2, True), ("4.99", 0, False)])
def test_the_minimum_is_the_card_part_itself(referred, product_factory, price, credits, rewarded):
    if credits:
        give_credits(referred, credits)

    buy(referred, product_factory(price=Decimal(price)), credits=credits)

    referral = Referral.objects.get(referred_user=referred)
    assert (referral.status == ReferralStatus.CONVERTED) is rewarded


def test_the_minimum_is_a_setting(settings, referred, product_factory):
    settings.REFERRAL_MIN_QUALIFYING_AMOUNT = Decimal("0.00")
    give_credits(referred, 1)

    buy(referred, product_factory(price=Decimal("10.00")), credits=1)  # all credits

    assert Referral.objects.get(referred_user=referred).status == ReferralStatus.CONVERTED
