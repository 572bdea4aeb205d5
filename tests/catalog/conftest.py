from decimal import Decimal

import pytest
from django.db import connection
from pymongo import TEXT

from catalog import selectors
from catalog.models import Product
from purchases.models import Purchase

TEXT_INDEX_NAME = "products_title_text"


@pytest.fixture(autouse=True)
def _fresh_text_index_knowledge():
    # What a process learnt about the text index must not leak between tests.
    selectors.forget_text_index()
    yield
    selectors.forget_text_index()


@pytest.fixture
def without_text_index(db):
    """The products collection without its title text index, restored afterwards."""
    products = connection.get_collection(Product._meta.db_table)
    products.drop_index(TEXT_INDEX_NAME)
    selectors.forget_text_index()
    yield
    products.create_index([("title", TEXT)], name=TEXT_INDEX_NAME)
    selectors.forget_text_index()


@pytest.fixture
def make_purchase(db):
    """Purchases written directly, completed unless a status is given."""

    def make(*, user, product, amount, credits_used=0, credit_amount="0.00",
             status="completed", **extra):
        amount, credit_amount = Decimal(amount), Decimal(credit_amount)
        return Purchase.objects.create(
            user=user, product=product, product_name=product.title, amount=amount,
            credits_used=credits_used, credit_amount=credit_amount,
            cash_amount=amount - credit_amount, status=status, **extra,
        )

    return make
