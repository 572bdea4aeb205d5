"""The payment provider: the development emulator is looked at once in a while, not on
every checkout page, and what the gateway sends to Stripe."""

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from purchases.gateways import (
    PaymentError,
    ensure_payment_provider,
    forget_payment_provider,
    get_gateway,
)
from referral_site import stripe_emulator
from referral_site.embedded import free_port


@pytest.fixture
def own_emulator(tmp_path, settings):
    """Settings naming a development emulator of this test's own (not the run's)."""
    port = free_port()
    settings.EMBEDDED_STRIPE = {
        "DIR": str(tmp_path),
        "PORT": port,
        "WEBHOOK_URL": "http://127.0.0.1:9/webhooks/stripe/",
    }
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
    forget_payment_provider()
    yield port
    stripe_emulator.stop(tmp_path)
    forget_payment_provider()


def test_a_stopped_emulator_is_restarted_after_the_call_that_found_it_gone(own_emulator, tmp_path):
    port = own_emulator
    ensure_payment_provider()
    assert stripe_emulator.answers(port)

    stripe_emulator.stop(tmp_path)
    # Looked at a moment ago: the next page does not look again (no restart yet).
    ensure_payment_provider()
    assert not stripe_emulator.answers(port)

    with pytest.raises(PaymentError):
        get_gateway().retrieve_intent("pi_missing")
    # That failed call makes the next one look, and start it again.
    ensure_payment_provider()
    assert stripe_emulator.answers(port)


class _Recorder(BaseHTTPRequestHandler):
    """A stand-in Stripe API that records each request and answers with a PaymentIntent."""

    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = parse_qs(self.rfile.read(length).decode())
        self.seen.append((self.command, self.path, dict(self.headers), body))
        intent = {
            "id": "pi_recorded",
            "object": "payment_intent",
            "status": "requires_confirmation",
            "amount": 1299,
            "currency": "usd",
            "client_secret": "pi_recorded_secret_x",
            "metadata": {"purchase_id": (body.get("metadata[purchase_id]") or [""])[0]},
            "payment_method": {"id": "pm_1", "object": "payment_method", "card": {"last4": "4242"}},
        }
        if self.path.startswith("/v1/refunds"):
            intent = {"id": "re_recorded", "object": "refund"}
        payload = json.dumps(intent).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_stripe(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    _Recorder.seen = []
    yield _Recorder.seen
    server.shutdown()
    server.server_close()


def test_the_gateway_sends_its_idempotency_keys_and_parameters(recording_stripe):
    """What reaches Stripe: each write's Idempotency-Key, the intent's parameters, the expansion."""
    gateway = get_gateway()
    created = gateway.create_intent(
        amount=Decimal("12.99"),
        payment_method_id="pm_card_visa",
        purchase_id="p1",
        idempotency_key="purchase:p1",
    )
    confirmed = gateway.confirm_intent("pi_recorded")
    assert gateway.refund(intent_id="pi_recorded", amount=Decimal("5"), idempotency_key="r:1") == (
        "re_recorded"
    )

    (create, confirm, refund) = recording_stripe
    assert (create[0], create[1]) == ("POST", "/v1/payment_intents")
    assert create[2]["Idempotency-Key"] == "purchase:p1"
    assert create[3]["amount"] == ["1299"] and create[3]["payment_method"] == ["pm_card_visa"]
    assert create[3]["metadata[purchase_id]"] == ["p1"]
    assert create[3]["payment_method_types[0]"] == ["card"]
    assert (confirm[0], confirm[1]) == ("POST", "/v1/payment_intents/pi_recorded/confirm")
    assert confirm[3]["expand[0]"] == ["payment_method"]
    assert refund[2]["Idempotency-Key"] == "r:1" and refund[3]["amount"] == ["500"]
    # The answers read as the intents they are.
    assert (created.id, created.amount, created.purchase_id) == ("pi_recorded", 1299, "p1")
    assert confirmed.card_last4 == "4242" and confirmed.payment_method_id == "pm_1"
