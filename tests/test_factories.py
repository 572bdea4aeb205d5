"""The factories themselves: building touches no database, creating goes through services."""

from accounts.models import User
from credits.models import CreditTransaction
from purchases.models import Purchase
from referrals.models import Referral
from tests.factories import (
    CreditTransactionFactory,
    PurchaseFactory,
    ReferralFactory,
    UserFactory,
)


def test_building_a_user_writes_nothing(db):
    user = UserFactory.build(name="Unsaved")

    assert user.pk is None and len(user.referral_code) == 8
    assert user.check_password("correct-horse-battery")
    assert User.objects.count() == 0


def test_sub_factories_make_the_documents_they_point_at(db):
    referral = ReferralFactory()
    purchase = PurchaseFactory(user=referral.referred_user)
    entry = CreditTransactionFactory(user=referral.referrer, amount=3)

    assert referral.referred_user.referred_by_id == referral.referrer_id
    assert Referral.objects.get().pk == referral.pk
    assert Purchase.objects.get().product_name == purchase.product.title
    assert purchase.cash_amount == purchase.amount
    assert CreditTransaction.objects.get().pk == entry.pk
    assert User.objects.count() == 2
