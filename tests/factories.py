"""Factories for the collections; users go through the real service when saved."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.models import User, referral_code_generate
from accounts.services import user_create
from catalog.models import Category, Product
from credits.models import CreditTransaction, Kind
from purchases.models import Purchase, PurchaseStatus
from referrals.models import Referral, ReferralStatus


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    title = factory.Sequence(lambda n: f"Product {n}")
    description = factory.Faker("sentence")
    author = factory.Faker("name")
    price = Decimal("19.99")
    category = Category.EBOOK
    image_url = ""


class UserFactory(DjangoModelFactory[User]):
    """Saved users come from accounts.services.user_create (referral code included);
    ``UserFactory.build()`` makes an unsaved one and touches no database."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = "correct-horse-battery"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(**kwargs)

    @classmethod
    def _build(cls, model_class, *args, password=None, **kwargs):
        user = model_class(referral_code=referral_code_generate(), **kwargs)
        user.set_password(password)
        return user


class ReferralFactory(DjangoModelFactory[Referral]):
    """A referral document as stored; a sign-up's referral comes from referral_create."""

    class Meta:
        model = Referral

    referrer = factory.SubFactory(UserFactory)
    referred_user = factory.SubFactory(UserFactory, referred_by=factory.SelfAttribute("..referrer"))
    status = ReferralStatus.PENDING
    credits_awarded = False


class PurchaseFactory(DjangoModelFactory[Purchase]):
    """A purchase document as stored (completed, paid by card); checkout makes real ones."""

    class Meta:
        model = Purchase

    user = factory.SubFactory(UserFactory)
    product = factory.SubFactory(ProductFactory)
    product_name = factory.SelfAttribute("product.title")
    amount = factory.SelfAttribute("product.price")
    credits_used = 0
    credit_amount = Decimal("0.00")
    cash_amount = factory.LazyAttribute(lambda p: p.amount - p.credit_amount)
    payment_method_id = "pm_card_visa"
    status = PurchaseStatus.COMPLETED


class CreditTransactionFactory(DjangoModelFactory[CreditTransaction]):
    """A raw ledger entry, without its balance move: for tests that make drift on purpose."""

    class Meta:
        model = CreditTransaction

    user = factory.SubFactory(UserFactory)
    amount = 1
    kind = Kind.ADJUSTMENT
    reason = "test entry"
    idempotency_key = factory.Sequence(lambda n: f"test-entry:{n}")
