import re
from decimal import Decimal

import pytest

from referrals.services import referral_create

VISA = {"card_number": "4242 4242 4242 4242", "card_expiry": "12/34", "card_cvc": "123"}
DECLINED = {"card_number": "4000 0000 0000 0002", "card_expiry": "12/34", "card_cvc": "123"}


@pytest.fixture
def clean_code(product_factory):
    return product_factory(title="Clean Code", author="Robert C. Martin",
                           price=Decimal("32.99"))


@pytest.fixture
def referrer(user_factory):
    return user_factory(name="Alice Referrer", email="alice@example.com")


@pytest.fixture
def referred(user_factory, referrer):
    buyer = user_factory(name="Bob Buyer", email="bob@example.com", referred_by=referrer)
    referral_create(referrer=referrer, referred_user=buyer)
    referrer.refresh_from_db()
    return buyer


def give_credits(user, n):
    from credits.services import credits_grant

    credits_grant(user_id=user.pk, amount=n, kind="adjustment",
                  idempotency_key=f"test-grant:{user.pk}:{n}:{id(object())}",
                  reason="test credits")
    user.refresh_from_db()
    return user


def checkout_token(response) -> str:
    match = re.search(rb'name="token" value="([0-9a-f]{32})"', response.content)
    assert match, "checkout form has no token"
    return match.group(1).decode()


@pytest.fixture
def buy(client):
    """GET the checkout page, then POST it with the given fields."""

    def _buy(user, product, *, credits=0, card=VISA, token=None, **extra):
        client.force_login(user)
        page = client.get(f"/checkout/{product.pk}/")
        data = {"token": token or checkout_token(page), "credits": credits, "action": "pay",
                **(card or {}), **extra}
        return client.post(f"/checkout/{product.pk}/", data)

    return _buy
