"""Races with real threads against the real server (each thread its own connection)."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connections

from credits.models import CreditTransaction
from credits.services import InsufficientCredits, credits_spend
from purchases.models import Purchase
from purchases.services import PurchaseInProgress, purchase_checkout
from referrals.models import Referral
from tests.shopping import give_credits

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(n, target):
    """Start n threads at one barrier; return what each returned or raised."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_sixteen_concurrent_first_purchases_convert_and_award_exactly_once(
    referrer, referred, product_factory
):
    products = [product_factory(title=f"P{i}", price=Decimal("5.00")) for i in range(16)]

    results = run_together(
        16,
        lambda i: purchase_checkout(
            user=referred,
            product=products[i],
            credits_used=0,
            token=uuid.uuid4().hex,
            payment_method_id="pm_card_visa",
        ),
    )

    assert all(isinstance(r, Purchase) for r in results), results
    assert Purchase.objects.filter(user=referred, status="completed").count() == 16
    assert Purchase.objects.filter(user=referred, is_first_purchase=True).count() == 1
    assert Purchase.objects.filter(user=referred, referral_credit_awarded=True).count() == 1
    referral = Referral.objects.get(referred_user=referred)
    assert referral.status == "converted"
    rewards = CreditTransaction.objects.filter(kind__startswith="referral_reward")
    assert sorted(rewards.values_list("user_id", flat=True)) == sorted([referrer.pk, referred.pk])
    referrer.refresh_from_db()
    referred.refresh_from_db()
    assert (referrer.credits, referrer.total_credits_earned) == (2, 2)
    assert (referred.credits, referred.total_credits_earned) == (2, 2)


def test_sixteen_concurrent_submits_of_one_intent_make_one_purchase(user, product_factory):
    product = product_factory(price=Decimal("25.00"))
    give_credits(user, 2)
    token = uuid.uuid4().hex

    results = run_together(
        16,
        lambda i: purchase_checkout(
            user=user,
            product=product,
            credits_used=2,
            token=token,
            payment_method_id="pm_card_visa",
        ),
    )

    purchases = [r for r in results if isinstance(r, Purchase)]
    in_progress = [r for r in results if isinstance(r, PurchaseInProgress)]
    assert len(purchases) + len(in_progress) == 16
    assert Purchase.objects.count() == 1
    assert Purchase.objects.get().status == "completed"
    user.refresh_from_db()
    assert user.credits == 0
    assert CreditTransaction.objects.filter(kind="spend").count() == 1


def test_fifty_concurrent_spends_of_one_credit_from_ten_end_at_zero(user):
    give_credits(user, 10)

    results = run_together(
        50,
        lambda i: credits_spend(
            user_id=user.pk, amount=1, idempotency_key=f"race-spend:{i}", reason="race"
        ),
    )

    succeeded = [r for r in results if isinstance(r, CreditTransaction)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(succeeded), len(refused)) == (10, 40)
    user.refresh_from_db()
    assert user.credits == 0
    assert sorted(t.balance_after for t in succeeded) == list(range(10))
    assert CreditTransaction.objects.filter(kind="spend").count() == 10
