"""Card payments through Stripe's API (or the embedded emulator, which speaks the same).

No card number ever reaches this server: Stripe.js turns the card into a
payment method in the browser. Per purchase, the server creates one
PaymentIntent for the cash part (integer cents, idempotency key
``purchase:<id>``, the purchase id in metadata), records its id, then
confirms it. Whatever the browser reports, a purchase is completed only from
an intent retrieved from the API (or a verified webhook) that ``matches`` it.
"""

import logging
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import stripe
from django.conf import settings

from referral_site import stripe_emulator
from referral_site.money import CENT

logger = logging.getLogger(__name__)

CURRENCY = "usd"
_UNAVAILABLE = (
    "The payment service is not answering right now; nothing was charged. "
    "Please try again in a few minutes."
)


class PaymentError(Exception):
    """The payment provider failed us (unreachable, refused the request): nothing to blame
    on the card. ``str()`` is safe to show to the customer."""


class CardDeclined(Exception):
    """The card was declined; ``str()`` is the provider's reason, safe to show."""


def amount_to_cents(amount: Decimal) -> int:
    """Integer cents from a Decimal amount, never through a float."""
    cents = (amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value()
    return int(cents)


@dataclass(frozen=True)
class Intent:
    """What the provider says about one PaymentIntent."""

    id: str
    status: str
    amount: int  # cents
    currency: str
    purchase_id: str  # from the metadata
    client_secret: str = ""
    error: str = ""  # the last payment error's message, if any
    charge_id: str = ""
    payment_method_id: str = ""
    # The card, when the payment method came expanded (confirm, retrieve).
    card_fingerprint: str = ""
    card_last4: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed(self) -> bool:
        """Over for good: cancelled, or back to needing a payment method after an error."""
        return self.status == "canceled" or (
            self.status == "requires_payment_method" and bool(self.error)
        )

    @property
    def awaiting_customer(self) -> bool:
        return self.status == "requires_action"

    def matches(self, *, purchase_id, cash_amount: Decimal) -> bool:
        """The intent is for this purchase, in our currency, for exactly its cash part."""
        return (
            self.purchase_id == str(purchase_id)
            and self.currency == CURRENCY
            and self.amount == amount_to_cents(cash_amount)
        )


# The payment method comes back whole, for the card's fingerprint and last four digits.
_EXPANDED = {"expand": ["payment_method"]}


def _field(obj, name, default=None):
    # Stripe objects raise AttributeError for absent keys; the emulator omits some.
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def intent_from(obj) -> Intent:
    """An Intent from a PaymentIntent (an SDK object or a webhook's plain dict)."""
    error = _field(obj, "last_payment_error") or {}
    charge = _field(obj, "latest_charge") or ""
    # Stripe sends the charge's id; the emulator embeds the whole charge.
    charge_id = charge if isinstance(charge, str) else _field(charge, "id", "")
    metadata = _field(obj, "metadata") or {}
    method = _field(obj, "payment_method") or ""
    card = {} if isinstance(method, str) else (_field(method, "card") or {})
    if not card and _field(method, "object") == "card":
        card = method  # the emulator's Stripe.js pays with a legacy card object itself
    return Intent(
        id=_field(obj, "id", ""),
        status=_field(obj, "status", ""),
        amount=int(_field(obj, "amount", 0) or 0),
        currency=str(_field(obj, "currency", "")).lower(),
        purchase_id=str(_field(metadata, "purchase_id", "") or ""),
        client_secret=_field(obj, "client_secret", "") or "",
        error=_field(error, "message", "") or "",
        charge_id=charge_id or "",
        payment_method_id=method if isinstance(method, str) else _field(method, "id", ""),
        card_fingerprint=_field(card, "fingerprint", "") or "",
        card_last4=_field(card, "last4", "") or "",
    )


@lru_cache(maxsize=4)
def _stripe_client(secret_key: str, api_base: str) -> stripe.StripeClient:
    """One client per process and configuration: its HTTP connection pool is reused."""
    return stripe.StripeClient(secret_key, base_addresses={"api": api_base}, max_network_retries=2)


class StripeGateway:
    def __init__(self):
        self._client = _stripe_client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)

    def _call(self, what: str, request):
        try:
            return request()
        except stripe.CardError as exc:
            raise CardDeclined(exc.user_message or "Your card was declined.") from exc
        except stripe.InvalidRequestError as exc:
            if what != "create":
                raise PaymentError(_UNAVAILABLE) from exc
            # The one thing a customer gives us is the payment method.
            raise CardDeclined(
                "This card cannot be used; please check it or try another card."
            ) from exc
        except stripe.StripeError as exc:
            # The type and code only: a message can hold customer data.
            logger.error("stripe %s failed: %s %s", what, type(exc).__name__, exc.code or "")
            if isinstance(exc, stripe.APIConnectionError):
                forget_payment_provider()  # the next call looks again (and restarts an emulator)
            raise PaymentError(_UNAVAILABLE) from exc

    def _request(self, what: str, method: str, path: str, params=None, *, idempotency_key=""):
        """One API call; its answer as the JSON Stripe sent (a dict).

        Through the client's raw_request: the SDK's own request, retries and
        errors (CardError and the rest, mapped by _call), without turning the
        answer into nested StripeObjects, which took about 0.3 ms for a
        confirmed intent with its payment method on every checkout.
        """
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        response = self._call(
            what, lambda: self._client.raw_request(method, path, **(params or {}), **options)
        )
        return response.data

    def create_intent(
        self, *, amount: Decimal, payment_method_id: str, purchase_id, idempotency_key: str
    ) -> Intent:
        """A PaymentIntent for ``amount``, not yet confirmed (so its id can be recorded first)."""
        params = {
            "amount": amount_to_cents(amount),
            "currency": CURRENCY,
            "payment_method": payment_method_id,
            # Cards only: no redirect-based method needing a return_url.
            "payment_method_types": ["card"],
            "metadata": {"purchase_id": str(purchase_id)},
        }
        return intent_from(
            self._request(
                "create", "post", "/v1/payment_intents", params, idempotency_key=idempotency_key
            )
        )

    def confirm_intent(self, intent_id: str) -> Intent:
        """Charge: succeeded, requires_action (3-D Secure), or CardDeclined."""
        path = f"/v1/payment_intents/{quote(intent_id, safe='')}/confirm"
        return intent_from(self._request("confirm", "post", path, _EXPANDED))

    def retrieve_intent(self, intent_id: str) -> Intent:
        path = f"/v1/payment_intents/{quote(intent_id, safe='')}"
        return intent_from(self._request("retrieve", "get", path, _EXPANDED))

    def cancel_intent(self, intent_id: str) -> Intent:
        path = f"/v1/payment_intents/{quote(intent_id, safe='')}/cancel"
        return intent_from(self._request("cancel", "post", path))

    def refund(self, *, intent_id: str, amount: Decimal, idempotency_key: str) -> str:
        """Refund ``amount`` of the intent's charge; the refund's id."""
        params = {"payment_intent": intent_id, "amount": amount_to_cents(amount)}
        refund = self._request(
            "refund", "post", "/v1/refunds", params, idempotency_key=idempotency_key
        )
        return refund["id"]


# How long a process trusts its last look at the development emulator: the
# look (a lock file, a state file, a connection) cost about a millisecond on
# every checkout page. An emulator stopped in between answers nothing, the
# call fails as an unavailable provider would, and the next look restarts it.
EMULATOR_RECHECK_SECONDS = 10.0
_emulator_seen_at: float | None = None


def ensure_payment_provider() -> None:
    """In development, start the embedded Stripe emulator if it is not running yet.

    Before a page loads its Stripe.js, and before any API call. A no-op with
    STRIPE_SECRET_KEY set (Stripe) and in tests (one emulator per run).
    """
    global _emulator_seen_at  # noqa: PLW0603 - one timestamp per process
    embedded = settings.EMBEDDED_STRIPE
    if not embedded:
        return
    now = time.monotonic()
    if _emulator_seen_at is not None and now - _emulator_seen_at < EMULATOR_RECHECK_SECONDS:
        return
    try:
        stripe_emulator.ensure_running(
            Path(embedded["DIR"]),
            port=embedded["PORT"],
            webhook_url=embedded["WEBHOOK_URL"],
            secret=settings.STRIPE_WEBHOOK_SECRET,
        )
    except stripe_emulator.EmulatorError as exc:
        _emulator_seen_at = None
        raise PaymentError(_UNAVAILABLE) from exc
    _emulator_seen_at = now


def forget_payment_provider() -> None:
    """The next ensure_payment_provider() looks at the emulator again."""
    global _emulator_seen_at  # noqa: PLW0603 - one timestamp per process
    _emulator_seen_at = None


def get_gateway() -> StripeGateway:
    """Stripe, or in development the embedded emulator (started on first use)."""
    ensure_payment_provider()
    return StripeGateway()
