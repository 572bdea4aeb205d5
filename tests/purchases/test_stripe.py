"""The Stripe gateway and webhook, with no network: the SDK's HTTP call is
replaced and webhook payloads are signed with a test secret."""

import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
import stripe

from purchases.gateways import StripeGateway, amount_to_cents, get_gateway
from purchases.models import PaymentEvent, Purchase
from purchases.services import purchase_checkout

SECRET = "whsec_test_secret"


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (Decimal("32.99"), 3299),
        (Decimal("12.99"), 1299),
        (Decimal("0.10"), 10),
        (Decimal("1000.00"), 100000),
        (Decimal("0.005"), 1),
    ],
)
def test_amounts_become_integer_cents_without_floats(amount, cents):
    assert amount_to_cents(amount) == cents


@pytest.fixture
def captured(monkeypatch):
    calls = []

    def create(self, params, options=None):
        calls.append((params, options))
        if params["payment_method"] == "pm_card_chargeDeclined":
            raise stripe.CardError("Your card was declined.", "card", "card_declined")
        return SimpleNamespace(id="pi_123", status="succeeded")

    monkeypatch.setattr(stripe.PaymentIntentService, "create", create)
    return calls


def test_stripe_gateway_confirms_a_payment_intent_in_cents_with_an_idempotency_key(captured):
    gateway = StripeGateway("sk_test_123")

    result = gateway.charge(
        amount=Decimal("12.99"),
        currency="usd",
        payment_method_id="pm_card_visa",
        idempotency_key="purchase:abc",
        metadata={"purchase_id": "abc"},
    )

    params, options = captured[0]
    assert result.succeeded and result.payment_intent_id == "pi_123"
    assert params["amount"] == 1299 and isinstance(params["amount"], int)
    assert params["currency"] == "usd"
    assert params["payment_method"] == "pm_card_visa"
    assert params["confirm"] is True
    assert params["metadata"] == {"purchase_id": "abc"}
    assert options == {"idempotency_key": "purchase:abc"}


def test_stripe_card_error_is_a_decline_with_stripes_message(captured):
    result = StripeGateway("sk_test_123").charge(
        amount=Decimal("5.00"),
        currency="usd",
        payment_method_id="pm_card_chargeDeclined",
        idempotency_key="k",
        metadata={},
    )

    assert not result.succeeded
    assert result.decline_message == "Your card was declined."


def test_stripe_is_used_when_the_secret_key_is_set(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    assert isinstance(get_gateway(), StripeGateway)
    settings.STRIPE_SECRET_KEY = ""
    assert get_gateway().name == "test"


def _signed(client, payload: dict, secret: str = SECRET):
    body = json.dumps(payload)
    timestamp = int(time.time())
    signature = hmac.new(
        secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return client.post(
        "/webhooks/stripe/",
        body,
        content_type="application/json",
        headers={"Stripe-Signature": f"t={timestamp},v1={signature}"},
    )


def _event(event_type, purchase, event_id="evt_1"):
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "data": {
            "object": {
                "id": "pi_hook",
                "object": "payment_intent",
                "metadata": {"purchase_id": str(purchase.pk)},
                "last_payment_error": {"message": "Card expired"},
            }
        },
    }


@pytest.fixture
def interrupted_purchase(user, product_factory, monkeypatch):
    """A card purchase whose charge call never came back (still pending)."""
    from purchases.gateways import TestGateway

    def lost(*args, **kwargs):
        raise TimeoutError("no answer from the gateway")

    monkeypatch.setattr(TestGateway, "charge", lost)
    with pytest.raises(TimeoutError):
        purchase_checkout(
            user=user,
            product=product_factory(price=Decimal("9.00")),
            credits_used=0,
            token=uuid.uuid4().hex,
            payment_method_id="pm_card_visa",
        )
    monkeypatch.undo()
    purchase = Purchase.objects.get()
    assert purchase.status == "pending"
    return purchase


def test_webhook_with_a_valid_signature_completes_the_purchase_once(
    client, settings, interrupted_purchase
):
    settings.STRIPE_WEBHOOK_SECRET = SECRET

    first = _signed(client, _event("payment_intent.succeeded", interrupted_purchase))
    again = _signed(client, _event("payment_intent.succeeded", interrupted_purchase))

    assert first.status_code == 200 and first.json()["status"] == "completed"
    assert again.json() == {"received": True, "duplicate": True}
    interrupted_purchase.refresh_from_db()
    assert interrupted_purchase.status == "completed"
    assert interrupted_purchase.is_first_purchase
    assert PaymentEvent.objects.count() == 1


def test_webhook_payment_failure_fails_the_purchase(client, settings, interrupted_purchase):
    settings.STRIPE_WEBHOOK_SECRET = SECRET

    response = _signed(client, _event("payment_intent.payment_failed", interrupted_purchase))

    assert response.json()["status"] == "failed"
    interrupted_purchase.refresh_from_db()
    assert interrupted_purchase.failure_reason == "Card expired"


def test_webhook_with_a_bad_signature_is_rejected_and_changes_nothing(
    client, settings, interrupted_purchase
):
    settings.STRIPE_WEBHOOK_SECRET = SECRET

    response = _signed(
        client,
        _event("payment_intent.succeeded", interrupted_purchase),
        secret="whsec_someone_else",
    )

    assert response.status_code == 400
    interrupted_purchase.refresh_from_db()
    assert interrupted_purchase.status == "pending"
    assert not PaymentEvent.objects.exists()


def test_webhook_for_an_unknown_or_malformed_purchase_is_acknowledged(client, settings, db):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    event = {
        "id": "evt_other",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_x",
                "object": "payment_intent",
                "metadata": {"purchase_id": "not-an-object-id"},
            }
        },
    }

    response = _signed(client, event)

    assert response.status_code == 200
    assert response.json() == {"received": True, "purchase": None}
