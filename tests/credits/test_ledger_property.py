"""A random sequence of purchases, spends, adjustments and refunds keeps the
ledger's sum equal to every user's cached balance."""

import uuid
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from credits.models import CreditTransaction
from credits.services import InsufficientCredits, credits_adjust, credits_spend
from purchases.models import Purchase
from purchases.services import CheckoutError, purchase_checkout, purchase_refund
from referrals.models import Referral
from tests.factories import ProductFactory, UserFactory

operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(0, 2), st.integers(0, 3), st.booleans()),
        st.tuples(st.just("spend"), st.integers(0, 2), st.integers(1, 4)),
        st.tuples(st.just("adjust"), st.integers(0, 2), st.integers(-3, 5)),
        st.tuples(st.just("refund"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_ledger_sum_equals_cached_balance_after_any_sequence(steps, staff_user):
    for model in (CreditTransaction, Purchase, Referral):
        model.objects.all().delete()
    User.objects.exclude(pk=staff_user.pk).delete()
    referrer = UserFactory(name="Referrer")
    users = [referrer, UserFactory(name="Referred", referred_by=referrer), UserFactory()]
    Referral.objects.create(referrer=referrer, referred_user=users[1])
    products = [ProductFactory(price=Decimal(p)) for p in ("9.99", "25.00", "40.00")]

    for step in steps:
        kind, *args = step
        if kind == "buy":
            who, what, declined = args[0], products[args[1] % 3], args[2]
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

    for user in User.objects.all():
        ledger = CreditTransaction.objects.filter(user=user).aggregate(s=Sum("amount"))["s"] or 0
        assert user.credits == ledger >= 0
    assert Purchase.objects.filter(user=users[1], is_first_purchase=True).count() <= 1
    assert CreditTransaction.objects.filter(kind__startswith="referral_reward").count() in (0, 2)
