"""Helpers for tests that shop: test cards, credits, the checkout form's token."""

import re
import uuid

import stripe
from django.conf import settings

from credits.models import Kind
from credits.services import credits_grant
from purchases.services import purchase_checkout

# What the checkout's Stripe.js posts for a card: a payment method, never the number.
# The emulator's test methods: a Visa that is charged, and one its bank declines.
VISA = {"payment_method_id": "pm_card_visa"}
DECLINED = {"payment_method_id": "pm_card_chargeCustomerFail"}


def buy(user, product, *, credits=0, payment_method_id=VISA["payment_method_id"]):
    """A checkout through the service, as the checkout view makes it (a fresh intent token)."""
    return purchase_checkout(
        user=user,
        product=product,
        credits_used=credits,
        token=uuid.uuid4().hex,
        payment_method_id=payment_method_id,
    )


def give_credits(user, n):
    """Add ``n`` credits through the ledger; every call is a grant of its own."""
    credits_grant(
        user_id=user.pk,
        amount=n,
        kind=Kind.ADJUSTMENT,
        idempotency_key=f"test-grant:{uuid.uuid4().hex}",
        reason="test credits",
    )
    user.refresh_from_db()
    return user


def checkout_token(response) -> str:
    match = re.search(rb'name="token" value="([0-9a-f]{32})"', response.content)
    assert match, "checkout form has no token"
    return match.group(1).decode()


def _stripe():
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )


def card_as_browser(number: str) -> dict:
    """The form data the emulator's Stripe.js posts: the card object of a token."""
    token = _stripe().v1.tokens.create(
        params={"card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}}
    )
    return {"payment_method_id": token.card.id}


def card(number: str) -> dict:
    """The checkout's form data for another test card: its own payment method and fingerprint."""
    method = _stripe().v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    return {"payment_method_id": method.id}
