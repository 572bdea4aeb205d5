from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import User
from catalog.models import Product
from credits.models import CreditTransaction, Kind
from credits.services import credits_grant
from purchases.models import Purchase
from referrals.models import Referral, ReferralStatus

JAN_10 = datetime(2024, 1, 10, 8, 0, tzinfo=UTC)
JAN_12 = datetime(2024, 1, 12, 14, 20, tzinfo=UTC)
JAN_15 = datetime(2024, 1, 15, 10, 30, 0, 250000, tzinfo=UTC)


@dataclass
class Shop:
    alice: User
    bob: User
    product: Product
    referral: Referral
    purchase: Purchase
    reward: CreditTransaction


def _set_times(mongo, model, pk, **times):
    # Fixed times, written past auto_now, so the expected CSV cells are exact.
    mongo[model._meta.db_table].update_one({"_id": pk}, {"$set": times})


@pytest.fixture
def shop(mongo, user_factory, product_factory) -> Shop:
    """schema.md's sample story: Bob, referred by Alice, buys Clean Code with 2 credits."""
    alice = user_factory(name="Alice Referrer", email="alice@example.com")
    bob = user_factory(name="Bob Buyer", email="bob@example.com", referred_by=alice)
    product = product_factory(
        title="Clean Code",
        author="Robert C. Martin",
        description="A handbook of agile software craftsmanship",
        price=Decimal("32.99"),
        category="ebook",
        image_url="https://example.com/clean-code.jpg",
    )
    referral = Referral.objects.create(
        referrer=alice,
        referred_user=bob,
        status=ReferralStatus.CONVERTED,
        credits_awarded=True,
        converted_at=JAN_12,
    )
    purchase = Purchase.objects.create(
        user=bob,
        product=product,
        product_name=product.title,
        amount=Decimal("32.99"),
        credits_used=2,
        credit_amount=Decimal("20.00"),
        cash_amount=Decimal("12.99"),
        payment_method_id="pm_1234567890",
        is_first_purchase=True,
        referral_credit_awarded=True,
        status="completed",
    )
    applied = credits_grant(
        user_id=alice.pk,
        amount=2,
        kind=Kind.REFERRAL_REWARD_REFERRER,
        idempotency_key=f"referral-reward:{referral.pk}:{alice.pk}",
        reason="Bob Buyer's first purchase",
        referral_id=referral.pk,
        purchase_id=purchase.pk,
    )
    _set_times(mongo, User, alice.pk, createdAt=JAN_10, updatedAt=JAN_15)
    _set_times(mongo, User, bob.pk, createdAt=JAN_12, updatedAt=JAN_12)
    _set_times(mongo, Product, product.pk, createdAt=JAN_10, updatedAt=JAN_10)
    _set_times(mongo, Referral, referral.pk, createdAt=JAN_10, updatedAt=JAN_12)
    _set_times(mongo, Purchase, purchase.pk, createdAt=JAN_12, updatedAt=JAN_12)
    _set_times(mongo, CreditTransaction, applied.entry_id, createdAt=JAN_12)
    for obj in (alice, bob, product, referral, purchase):
        obj.refresh_from_db()
    return Shop(
        alice=alice,
        bob=bob,
        product=product,
        referral=referral,
        purchase=purchase,
        reward=CreditTransaction.objects.get(pk=applied.entry_id),
    )
