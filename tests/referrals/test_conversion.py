"""Conversion and awards, called the way the purchases app calls them."""

from bson import ObjectId

from credits.models import CreditTransaction, Kind
from referrals.conversion import (
    Conversion,
    referral_convert_for_purchase,
    referral_reward_grants,
    referral_reward_key,
)
from referrals.models import Referral, ReferralStatus


def test_conversion_awards_both_users_the_configured_rewards_once(settings, referrer, referred):
    settings.REFERRAL_REWARD_REFERRER = 3
    settings.REFERRAL_REWARD_REFERRED = 1
    purchase_id = ObjectId()

    first = referral_convert_for_purchase(
        referred_user_id=referred.pk, referrer_id=referrer.pk, purchase_id=purchase_id
    )
    again = referral_convert_for_purchase(
        referred_user_id=referred.pk, referrer_id=referrer.pk, purchase_id=purchase_id
    )

    referral = Referral.objects.get(referred_user=referred)
    assert (
        first
        == again
        == Conversion(
            referral_id=referral.pk, referrer_id=referrer.pk, referred_user_id=referred.pk
        )
    )
    assert (referral.status, referral.credits_awarded) == (ReferralStatus.CONVERTED, True)
    assert referral.converted_at is not None
    entries = {
        (e.user_id, e.kind, e.amount, e.purchase_id) for e in CreditTransaction.objects.all()
    }
    assert entries == {
        (referrer.pk, Kind.REFERRAL_REWARD_REFERRER, 3, purchase_id),
        (referred.pk, Kind.REFERRAL_REWARD_REFERRED, 1, purchase_id),
    }
    referrer.refresh_from_db()
    referred.refresh_from_db()
    assert (referrer.credits, referred.credits) == (3, 1)


def test_a_buyer_who_was_not_referred_converts_nothing(user):
    assert (
        referral_convert_for_purchase(
            referred_user_id=user.pk, referrer_id=ObjectId(), purchase_id=ObjectId()
        )
        is None
    )
    assert CreditTransaction.objects.count() == 0


def test_the_callers_record_is_written_with_the_award_and_only_while_awarding(referred):
    recorded = []

    referral_convert_for_purchase(
        referred_user_id=referred.pk,
        referrer_id=referred.referred_by_id,
        purchase_id=ObjectId(),
        also=lambda: recorded.append(CreditTransaction.objects.count()),
    )

    assert recorded == [2]  # after both reward entries


def test_a_reward_set_to_zero_records_no_entry_for_that_side(settings, referrer, referred):
    settings.REFERRAL_REWARD_REFERRED = 0

    referral_convert_for_purchase(
        referred_user_id=referred.pk, referrer_id=referrer.pk, purchase_id=ObjectId()
    )

    assert list(CreditTransaction.objects.values_list("user_id", "amount")) == [
        (referrer.pk, settings.REFERRAL_REWARD_REFERRER)
    ]


def test_reward_grants_carry_the_published_ledger_keys(referrer, referred):
    referral = Referral.objects.get(referred_user=referred)
    conversion = Conversion(
        referral_id=referral.pk, referrer_id=referrer.pk, referred_user_id=referred.pk
    )

    grants = referral_reward_grants(conversion=conversion, purchase_id=None)

    assert [g.idempotency_key for g in grants] == [
        referral_reward_key(referral.pk, referrer.pk),
        referral_reward_key(referral.pk, referred.pk),
    ]
    assert [g.user_id for g in grants] == [referrer.pk, referred.pk]
