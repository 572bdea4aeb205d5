"""Payment gateways: a small interface, a built-in test gateway, and Stripe.

The site never stores card numbers: the test gateway turns a card into a
``pm_...`` payment method id the way Stripe.js does in the browser, and every
charge is made against a payment method id with an idempotency key, so that
charging again for the same purchase (a retry, a resumed purchase) returns the
first result instead of charging twice.
"""

import hashlib
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from django.conf import settings

from referral_site.money import CENT

logger = logging.getLogger(__name__)


class CardError(Exception):
    """The card details cannot be used (a form field error, nothing charged)."""


@dataclass(frozen=True)
class Card:
    """Card details typed into the checkout (test gateway only; Stripe.js keeps them)."""

    number: str = ""
    expiry: tuple[int, int] | None = None  # (month, four-digit year)
    cvc: str = ""


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    payment_intent_id: str = ""
    decline_message: str = ""


def amount_to_cents(amount: Decimal) -> int:
    """Integer cents from a Decimal amount, never through a float."""
    cents = (amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value()
    return int(cents)


class PaymentGateway(Protocol):
    name: str
    accepts_card_numbers: bool

    def create_payment_method(
        self, *, card_number: str, exp_month: int, exp_year: int, cvc: str
    ) -> str: ...

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult: ...


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class TestGateway:
    """Accepts Stripe's documented test cards; moves no money.

    4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined. The payment
    method id encodes the outcome, like Stripe's ``pm_card_visa`` and
    ``pm_card_chargeDeclined`` test methods, which it also accepts.
    """

    name = "test"
    accepts_card_numbers = True
    SUCCEEDS = "4242424242424242"
    DECLINED = "4000000000000002"

    def create_payment_method(
        self, *, card_number: str, exp_month: int, exp_year: int, cvc: str
    ) -> str:
        digits = "".join(ch for ch in card_number if ch.isdigit())
        if len(digits) < 12 or not _luhn_ok(digits):
            raise CardError("This card number is not valid.")
        if digits not in (self.SUCCEEDS, self.DECLINED):
            raise CardError(
                "Use a test card: 4242 4242 4242 4242 (or 4000 0000 0000 0002 to see a decline)."
            )
        outcome = "visa" if digits == self.SUCCEEDS else "chargeDeclined"
        # Unique per card entry, but derived from nothing secret.
        suffix = hashlib.sha256(f"{outcome}{exp_month}{exp_year}".encode()).hexdigest()[:10]
        return f"pm_test_{outcome}_{suffix}"

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        intent = "pi_test_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        if "chargeDeclined" in payment_method_id:
            return ChargeResult(
                succeeded=False, payment_intent_id=intent, decline_message="Your card was declined."
            )
        if payment_method_id.startswith(("pm_test_visa", "pm_card_visa")):
            return ChargeResult(succeeded=True, payment_intent_id=intent)
        return ChargeResult(
            succeeded=False,
            payment_intent_id=intent,
            decline_message="This payment method is not a test card.",
        )


class StripeGateway:
    """A PaymentIntent per purchase, confirmed at once with the payment method.

    The payment method id comes from Stripe.js in the browser (or a Stripe
    test method such as ``pm_card_visa``); raw card numbers never reach us.
    """

    name = "stripe"
    accepts_card_numbers = False

    def __init__(self, secret_key: str):
        import stripe

        self._stripe = stripe
        self._client = stripe.StripeClient(secret_key)

    def create_payment_method(self, *, card_number, exp_month, exp_year, cvc) -> str:
        raise CardError("Card numbers are collected by Stripe in the browser.")

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount_to_cents(amount),
                    "currency": currency,
                    "payment_method": payment_method_id,
                    "confirm": True,
                    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except self._stripe.CardError as exc:
            return ChargeResult(
                succeeded=False, decline_message=exc.user_message or "Your card was declined."
            )
        if intent.status == "succeeded":
            return ChargeResult(succeeded=True, payment_intent_id=intent.id)
        logger.info("stripe payment intent %s ended as %s", intent.id, intent.status)
        return ChargeResult(
            succeeded=False,
            payment_intent_id=intent.id,
            decline_message="Your bank asked for a confirmation we cannot "
            "complete here; try another card.",
        )


def get_gateway() -> PaymentGateway:
    if settings.STRIPE_SECRET_KEY:
        return StripeGateway(settings.STRIPE_SECRET_KEY)
    return TestGateway()
