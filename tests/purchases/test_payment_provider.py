"""The development emulator is looked at once in a while, not on every checkout page."""

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
