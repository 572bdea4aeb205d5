"""Service-level rules of referrals: referral_create's idempotency, self-referral, sign-up."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from accounts.models import User
from referrals.models import Referral
from referrals.services import (
    ReferralCodeUnknown,
    ReferralMismatch,
    SelfReferral,
    referral_create,
    user_signup,
)


def test_referral_create_is_idempotent_and_counts_once(referrer, user_factory, mongo):
    # Given: a referred user whose referral is missing (crash between the inserts)
    referred = user_factory(referred_by=referrer)
    assert mongo.referrals.count_documents({}) == 0

    # When: the repair runs twice
    first = referral_create(referrer=referrer, referred_user=referred)
    second = referral_create(referrer=referrer, referred_user=referred)

    # Then
    assert first.pk == second.pk
    assert mongo.referrals.count_documents({"referredUserId": referred.pk}) == 1
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1


def test_referring_oneself_is_impossible(referrer, mongo):
    # When / Then
    with pytest.raises(SelfReferral):
        referral_create(referrer=referrer, referred_user=referrer)
    assert mongo.referrals.count_documents({}) == 0
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 0


def test_referral_must_agree_with_referred_by(referrer, user_factory, mongo):
    # Given: a user referred by nobody
    stranger = user_factory()

    # When / Then: a referral cannot be attached after sign-up
    with pytest.raises(ReferralMismatch):
        referral_create(referrer=referrer, referred_user=stranger)
    assert mongo.referrals.count_documents({}) == 0


def test_a_user_is_referred_at_most_once(referrer, user_factory, mongo):
    # Given
    referred = user_factory(referred_by=referrer)
    referral_create(referrer=referrer, referred_user=referred)
    other = user_factory(name="Other Referrer")

    # When: someone tries to record a second referral for the same user directly
    referred.referred_by = other
    result = referral_create(referrer=other, referred_user=referred)

    # Then: the unique referredUserId index kept the first one; nobody counted twice
    assert result.referrer_id == referrer.pk
    assert Referral.objects.filter(referred_user=referred).count() == 1
    assert mongo.users.find_one({"_id": other.pk})["totalReferredUsers"] == 0
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1


def test_signup_service_rejects_an_unknown_code_before_creating_anyone(db):
    # When / Then
    with pytest.raises(ReferralCodeUnknown) as excinfo:
        user_signup(
            name="N", email="n@example.com", password="pw-123-abc", referral_code="ABCDEFGH"
        )
    assert excinfo.value.field == "referral_code"
    assert not User.objects.filter(email="n@example.com").exists()


def _in_threads(function, count: int) -> list:
    """Run ``function`` ``count`` times at once, each thread on its own connection."""
    barrier = threading.Barrier(count)

    def run(_):
        try:
            barrier.wait()
            return function()
        except Exception as exc:  # returned, for the assertions
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_racing_signups_with_one_form_make_one_user_one_referral_one_count(referrer, mongo):
    # When: eight identical submits at the same moment
    results = _in_threads(
        lambda: user_signup(
            name="Racer",
            email="racer@example.com",
            password="race-condition-42",
            referral_code=referrer.referral_code,
        ),
        8,
    )

    # Then: every submit ends with the same account
    assert all(isinstance(result, User) for result in results), results
    assert len({result.pk for result in results}) == 1
    assert mongo.users.count_documents({"email": "racer@example.com"}) == 1
    assert mongo.referrals.count_documents({}) == 1
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1


def test_racing_referral_repairs_insert_and_count_once(referrer, user_factory, mongo):
    # Given
    referred = user_factory(referred_by=referrer)

    # When
    results = _in_threads(lambda: referral_create(referrer=referrer, referred_user=referred), 8)

    # Then
    assert all(isinstance(result, Referral) for result in results), results
    assert mongo.referrals.count_documents({"referredUserId": referred.pk}) == 1
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1
