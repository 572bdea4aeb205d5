"""Helpers for tests that shop: test cards, credits, the checkout form's token."""

import re
import uuid

from credits.models import Kind
from credits.services import credits_grant

# What the checkout's Stripe.js posts for a card: a payment method, never the number.
# The emulator's test methods: a Visa that is charged, and one its bank declines.
VISA = {"payment_method_id": "pm_card_visa"}
DECLINED = {"payment_method_id": "pm_card_chargeCustomerFail"}


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
