"""A random sequence of purchases, spends, adjustments, refunds, releases of
held rewards and review decisions keeps the ledger's sums equal to every
user's cached balance, held credits and credits earned."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from credits.models import EARNING_KINDS, CreditTransaction
from credits.services import InsufficientCredits, credits_adjust, credits_spend
from purchases.models import Purchase
from purchases.services import (
    CheckoutError,
    purchase_checkout,
    purchase_refund,
    purchase_review_approve,
)
from referrals.conversion import referral_release_due, referral_review_reject
from referrals.models import Referral, Review
from referrals.services import referral_create
from tests.factories import ProductFactory, UserFactory

operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(0, 2), st.integers(0, 3), st.booleans()),
        st.tuples(st.just("spend"), st.integers(0, 2), st.integers(1, 4)),
        st.tuples(st.just("adjust"), st.integers(0, 2), st.integers(-3, 5)),
        st.tuples(st.just("refund"), st.integers(0, 20)),
        st.tuples(st.just("release"), st.integers(0, 30)),
        st.tuples(st.just("review"), st.booleans()),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations, hold_days=st.sampled_from([0, 14]))
def test_ledger_sum_equals_cached_balance_after_any_sequence(steps, hold_days, staff_user):
    with override_settings(REFERRAL_HOLD_DAYS=hold_days):
        _run(steps, staff_user)


def _run(steps, staff_user):
    for model in (CreditTransaction, Purchase, Referral):
        model.objects.all().delete()
    User.objects.exclude(pk=staff_user.pk).delete()
    referrer = UserFactory(name="Referrer")
    users = [
        referrer,
        UserFactory(name="Referred", referred_by=referrer),
        UserFactory(),
        UserFactory(name="Flagged", referred_by=referrer),
    ]
    referral_create(referrer=referrer, referred_user=users[1])
    # Its conversion waits for review: a signal from its sign-up.
    referral_create(referrer=referrer, referred_user=users[3], signals=["same_ip"])
    products = [ProductFactory(price=Decimal(p)) for p in ("9.99", "25.00", "40.00")]

    for step in steps:
        kind, *args = step
        if kind == "buy":
            who, what, declined = (args[0] + args[2]) % 4, products[args[1] % 3], args[2]
            user = User.objects.get(pk=users[who].pk)
            credits = min(args[1], user.credits, int(what.price // django_settings.CREDIT_VALUE))
            try:
                purchase_checkout(
                    user=user,
                    product=what,
                    credits_used=credits,
                    token=uuid.uuid4().hex,
                    payment_method_id="pm_card_chargeDeclined" if declined else "pm_card_visa",
                )
            except CheckoutError:
                pass
        elif kind == "spend":
            try:
                credits_spend(
                    user_id=users[args[0]].pk,
                    amount=args[1],
                    idempotency_key=uuid.uuid4().hex,
                    reason="property spend",
                )
            except InsufficientCredits:
                pass
        elif kind == "adjust" and args[1] != 0:
            try:
                credits_adjust(
                    user=users[args[0]],
                    amount=args[1],
                    reason="property",
                    actor=staff_user,
                    idempotency_key=uuid.uuid4().hex,
                )
            except InsufficientCredits:
                pass
        elif kind == "refund":
            completed = list(Purchase.objects.filter(status="completed").order_by("created_at"))
            if completed:
                purchase_refund(purchase=completed[args[0] % len(completed)], actor=staff_user)
        elif kind == "release":
            referral_release_due(now=timezone.now() + timedelta(days=args[0]))
        elif kind == "review":
            for waiting in Referral.objects.filter(review=Review.WAITING):
                if args[0]:
                    purchase_review_approve(referral_id=waiting.pk, staff=staff_user)
                else:
                    referral_review_reject(referral_id=waiting.pk, staff=staff_user, note="no")

    for user in User.objects.all():
        entries = CreditTransaction.objects.filter(user=user)
        sums = entries.aggregate(credits=Sum("amount"), held=Sum("held_amount"))
        earned = entries.filter(kind__in=EARNING_KINDS, amount__gt=0).aggregate(s=Sum("amount"))
        assert user.credits == (sums["credits"] or 0) >= 0
        assert user.held_credits == (sums["held"] or 0) >= 0
        assert user.total_credits_earned == (earned["s"] or 0)
    for buyer in (users[1], users[3]):
        assert Purchase.objects.filter(user=buyer, is_first_purchase=True).count() <= 1
    for referral in Referral.objects.all():
        rewards = CreditTransaction.objects.filter(
            referral=referral, kind__startswith="referral_reward"
        )
        assert rewards.count() in (0, 2)
        if referral.review == Review.REJECTED:
            assert rewards.count() == 0
    call_command("reconcile_credits", "--check", "--quiet-seconds", "0", verbosity=0)
