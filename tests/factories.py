"""Factories for the four collections; users go through the real service."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from accounts.services import user_create
from catalog.models import Category, Product


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    title = factory.Sequence(lambda n: f"Product {n}")
    description = factory.Faker("sentence")
    author = factory.Faker("name")
    price = Decimal("19.99")
    category = Category.EBOOK
    image_url = ""


class UserFactory(factory.Factory):
    """Builds users through accounts.services.user_create (referral code included)."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = "correct-horse-battery"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(**kwargs)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        return user_create(**kwargs)
