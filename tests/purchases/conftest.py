from decimal import Decimal

import pytest

from tests.shopping import VISA, checkout_token


@pytest.fixture
def clean_code(product_factory):
    return product_factory(title="Clean Code", author="Robert C. Martin", price=Decimal("32.99"))


@pytest.fixture
def referrer(user_factory):
    return user_factory(name="Alice Referrer", email="alice@example.com")


@pytest.fixture
def buy(client):
    """GET the checkout page, then POST it with the given fields."""

    def _buy(user, product, *, credits=0, card=VISA, token=None, **extra):
        client.force_login(user)
        page = client.get(f"/checkout/{product.pk}/")
        data = {
            "token": token or checkout_token(page),
            "credits": credits,
            "action": "pay",
            **(card or {}),
            **extra,
        }
        return client.post(f"/checkout/{product.pk}/", data)

    return _buy
