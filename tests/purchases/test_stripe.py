"""Card payments against the embedded Stripe emulator: intents, 3-D Secure, webhooks,
refunds, abandoned payments. The same code talks to Stripe when STRIPE_SECRET_KEY is set."""

import hashlib
import hmac
import json
import logging
import time
import urllib.request
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from credits.models import CreditTransaction
from purchases.gateways import amount_to_cents
from purchases.models import PaymentEvent, Purchase, PurchaseStatus
from purchases.services import (
    CheckoutError,
    PaymentActionRequired,
    PaymentDeclined,
    checkout_quote,
    credit_choices,
    purchase_check_payment,
    purchase_refund,
)
from tests.shopping import buy, give_credits

THREE_D_SECURE = "4000002500003155"  # the emulator asks for 3-D Secure, then charges
CHARGE_DECLINED = "pm_card_chargeCustomerFail"


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
def stripe_api():
    """The emulator, seen from outside the application (what Stripe's dashboard would show)."""
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )


def card(stripe_api, number: str) -> str:
    """What the checkout's Stripe.js sends for a card typed into the card element."""
    token = stripe_api.v1.tokens.create(
        params={"card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return token.card.id


def authenticate(intent_id: str, client_secret: str, *, approve: bool) -> None:
    """The customer answers the bank's 3-D Secure challenge (the emulator's Stripe.js call)."""
    request = urllib.request.Request(  # noqa: S310 - the loopback emulator
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_id}/_authenticate"
        f"?success={'true' if approve else 'false'}",
        data=json.dumps(
            {"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": client_secret}
        ).encode(),
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - the loopback emulator
        pass


def waiting_for_3ds(stripe_api, user, product, credits=0) -> tuple[Purchase, str]:
    with pytest.raises(PaymentActionRequired) as asked:
        buy(user, product, payment_method_id=card(stripe_api, THREE_D_SECURE), credits=credits)
    return Purchase.objects.get(pk=asked.value.purchase.pk), asked.value.client_secret


# --- Paying -----------------------------------------------------------------------------


def test_a_card_pays_the_cash_part_through_one_intent_naming_the_purchase(
    stripe_api, user, product_factory
):
    give_credits(user, 2)
    purchase = buy(user, product_factory(price=Decimal("32.99")), credits=2)

    intent = stripe_api.v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert purchase.status == PurchaseStatus.COMPLETED
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 1299, "usd")
    assert intent.metadata["purchase_id"] == str(purchase.pk)


def test_a_declined_card_fails_the_purchase_and_returns_the_credits(user, product_factory):
    give_credits(user, 2)

    with pytest.raises(PaymentDeclined, match="Your card was declined."):
        buy(
            user,
            product_factory(price=Decimal("32.99")),
            credits=2,
            payment_method_id=CHARGE_DECLINED,
        )

    purchase = Purchase.objects.get()
    user.refresh_from_db()
    assert purchase.status == PurchaseStatus.FAILED
    assert user.credits == 2


def test_3ds_approved_completes_only_once_stripe_says_so(stripe_api, user, product_factory):
    purchase, secret = waiting_for_3ds(stripe_api, user, product_factory())
    assert purchase.status == PurchaseStatus.PENDING
    assert purchase_check_payment(purchase=purchase).client_secret == secret  # still waiting

    authenticate(purchase.payment_intent_id, secret, approve=True)
    purchase_check_payment(purchase=purchase)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.COMPLETED and purchase.is_first_purchase


def test_3ds_refused_fails_the_purchase_and_returns_the_credits(stripe_api, user, product_factory):
    give_credits(user, 1)
    purchase, secret = waiting_for_3ds(stripe_api, user, product_factory(), credits=1)

    authenticate(purchase.payment_intent_id, secret, approve=False)
    purchase_check_payment(purchase=purchase)

    purchase.refresh_from_db()
    user.refresh_from_db()
    assert purchase.status == PurchaseStatus.FAILED
    assert "failed authentication" in purchase.failure_reason
    assert user.credits == 1


def test_checkout_asks_for_3ds_in_the_page_and_the_report_back_is_checked_with_stripe(
    client, stripe_api, user, product_factory
):
    product = product_factory()
    client.force_login(user)
    page = client.get(f"/checkout/{product.pk}/")
    token = page.content.decode().split('name="token" value="')[1][:32]

    challenge = client.post(
        f"/checkout/{product.pk}/",
        {
            "token": token,
            "credits": 0,
            "action": "pay",
            "payment_method_id": card(stripe_api, THREE_D_SECURE),
        },
    )
    purchase = Purchase.objects.get()
    html = challenge.content.decode()
    early = client.post(f"/purchases/{purchase.pk}/payment/")  # the browser claims it is done
    authenticate(
        purchase.payment_intent_id,
        html.split('data-client-secret="')[1].split('"')[0],
        approve=True,
    )
    done = client.post(f"/purchases/{purchase.pk}/payment/")

    assert challenge.status_code == 200 and settings.STRIPE_JS_URL in html
    assert settings.STRIPE_API_BASE in challenge["Content-Security-Policy"]
    assert early.status_code == 200 and "Confirm your payment" in early.content.decode()
    assert done.url == f"/purchases/{purchase.pk}/"
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.COMPLETED


def test_only_the_checkout_page_lets_stripe_in(client, user, product_factory):
    client.force_login(user)

    checkout = client.get(f"/checkout/{product_factory().pk}/")["Content-Security-Policy"]
    home = client.get("/")["Content-Security-Policy"]

    assert settings.STRIPE_API_BASE in checkout and "frame-src" in checkout
    assert settings.STRIPE_API_BASE not in home and "script-src 'self';" in home + ";"


def test_the_checkout_policy_follows_the_stripe_settings(client, settings, user, product_factory):
    client.force_login(user)
    path = f"/checkout/{product_factory().pk}/"
    client.get(path)  # the policy of the settings before

    settings.STRIPE_JS_URL = "https://js.example.test/v3/"
    settings.STRIPE_FRAME_HOSTS = ["https://hooks.example.test"]
    policy = client.get(path)["Content-Security-Policy"]

    assert "script-src 'self' https://js.example.test;" in policy
    assert "frame-src 'self' https://js.example.test https://hooks.example.test" in policy


def test_a_provider_outage_is_a_clear_message_and_keeps_the_credits(
    client, settings, user, product_factory
):
    from referral_site.embedded import free_port

    give_credits(user, 1)
    product = product_factory(price=Decimal("32.99"))
    client.force_login(user)
    token = (
        client.get(f"/checkout/{product.pk}/")
        .content.decode()
        .split('name="token" value="')[1][:32]
    )
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody answers there

    response = client.post(
        f"/checkout/{product.pk}/",
        {"token": token, "credits": 1, "action": "pay", "payment_method_id": "pm_card_visa"},
    )

    user.refresh_from_db()
    assert response.status_code == 402
    assert "The payment service is not answering right now" in response.content.decode()
    assert user.credits == 1
    assert not Purchase.objects.filter(status=PurchaseStatus.COMPLETED).exists()


# --- Stripe's minimum charge -------------------------------------------------------------


def test_no_credit_choice_leaves_less_than_the_minimum_card_payment():
    # $10.30 with one $10 credit would leave $0.30 for the card.
    assert credit_choices(price=Decimal("10.30"), balance=5) == (0,)
    assert credit_choices(price=Decimal("20.40"), balance=5) == (0, 1)
    assert credit_choices(price=Decimal("20.00"), balance=5) == (0, 1, 2)
    with pytest.raises(CheckoutError, match=r"\$0.30 would be left to pay by card"):
        checkout_quote(price=Decimal("10.30"), balance=5, credits_used=1)


# --- Webhooks ----------------------------------------------------------------------------


def send(client, event_type: str, obj: dict, event_id: str | None = None):
    """A webhook signed like Stripe's (and the emulator's) with the configured secret."""
    body = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:14]}",
            "object": "event",
            "type": event_type,
            "data": {"object": obj},
        }
    )
    timestamp = int(time.time())
    signature = hmac.new(
        settings.STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return client.post(
        "/webhooks/stripe/",
        body,
        content_type="application/json",
        headers={"Stripe-Signature": f"t={timestamp},v1={signature}"},
    )


def intent_dict(stripe_api, intent_id: str) -> dict:
    return stripe_api.v1.payment_intents.retrieve(intent_id).to_dict()


def test_a_payment_confirmed_after_the_tab_closed_completes_by_webhook_once(
    client, stripe_api, referred, product_factory
):
    purchase, secret = waiting_for_3ds(stripe_api, referred, product_factory())
    authenticate(purchase.payment_intent_id, secret, approve=True)  # ... and the tab is closed
    succeeded = intent_dict(stripe_api, purchase.payment_intent_id)

    first = send(client, "payment_intent.succeeded", succeeded, event_id="evt_once")
    again = send(client, "payment_intent.succeeded", succeeded, event_id="evt_once")
    late_failure = send(
        client,
        "payment_intent.payment_failed",
        {**succeeded, "last_payment_error": {"message": "Declined"}},
    )

    purchase.refresh_from_db()
    assert first.json()["status"] == "completed"
    assert again.json() == {"received": True, "duplicate": True}
    assert late_failure.json()["status"] == "completed"  # out of order: changes nothing
    assert purchase.referral_credit_awarded
    assert PaymentEvent.objects.filter(event_id="evt_once").count() == 1
    assert CreditTransaction.objects.filter(kind__startswith="referral_reward").count() == 2


def test_a_failed_or_cancelled_payment_fails_the_purchase_once(
    client, stripe_api, user, product_factory
):
    give_credits(user, 1)
    purchase, _ = waiting_for_3ds(stripe_api, user, product_factory(), credits=1)
    cancelled = stripe_api.v1.payment_intents.cancel(purchase.payment_intent_id).to_dict()

    send(client, "payment_intent.canceled", cancelled)
    send(client, "payment_intent.payment_failed", cancelled)

    purchase.refresh_from_db()
    user.refresh_from_db()
    assert purchase.status == PurchaseStatus.FAILED
    assert user.credits == 1
    assert CreditTransaction.objects.filter(kind="refund").count() == 1


def test_a_payment_that_succeeds_after_its_purchase_failed_is_refunded(
    client, stripe_api, user, product_factory, caplog
):
    purchase, secret = waiting_for_3ds(stripe_api, user, product_factory(price=Decimal("9.00")))
    Purchase.objects.filter(pk=purchase.pk).update(status=PurchaseStatus.FAILED)  # given up on
    authenticate(purchase.payment_intent_id, secret, approve=True)

    with caplog.at_level(logging.ERROR, logger="purchases.services"):
        send(
            client, "payment_intent.succeeded", intent_dict(stripe_api, purchase.payment_intent_id)
        )

    refunds = stripe_api.v1.refunds.list(params={"payment_intent": purchase.payment_intent_id})
    assert [r.amount for r in refunds.data] == [900]
    assert "succeeded after purchase" in caplog.text
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.FAILED


def test_a_refund_made_in_stripes_dashboard_marks_the_purchase_refunded(
    client, stripe_api, user, product_factory
):
    give_credits(user, 1)
    purchase = buy(user, product_factory(price=Decimal("19.99")), credits=1)
    stripe_api.v1.refunds.create(params={"payment_intent": purchase.payment_intent_id})

    send(
        client,
        "charge.refunded",
        {
            "object": "charge",
            "payment_intent": purchase.payment_intent_id,
            "amount": 999,
            "amount_refunded": 999,
        },
    )

    purchase.refresh_from_db()
    user.refresh_from_db()
    assert purchase.status == PurchaseStatus.REFUNDED
    assert user.credits == 1


def test_a_dispute_flags_the_purchase_for_staff(client, stripe_api, user, product_factory):
    purchase = buy(user, product_factory())

    send(
        client,
        "charge.dispute.created",
        {"object": "dispute", "payment_intent": purchase.payment_intent_id},
    )

    purchase.refresh_from_db()
    assert purchase.disputed_at is not None and purchase.status == PurchaseStatus.COMPLETED


@pytest.mark.parametrize("obj", [None, [], {"metadata": {"purchase_id": "nonsense"}}, {"x": 1}])
def test_unknown_or_oddly_shaped_events_are_acknowledged(client, db, obj):
    assert send(client, "payment_intent.succeeded", obj).status_code == 200
    assert send(client, "customer.created", {"id": "cus_1"}).status_code == 200


def test_a_webhook_with_a_bad_signature_is_rejected_and_changes_nothing(client, db):
    response = client.post(
        "/webhooks/stripe/",
        json.dumps({"id": "evt_x", "type": "payment_intent.succeeded"}),
        content_type="application/json",
        headers={"Stripe-Signature": "t=1,v1=00"},
    )

    assert response.status_code == 400
    assert not PaymentEvent.objects.exists()


# --- Abandoned payments, refunds ----------------------------------------------------------


def test_reconcile_asks_stripe_completes_the_paid_and_cancels_the_abandoned(
    stripe_api, user, product_factory, user_factory
):
    paid, secret = waiting_for_3ds(stripe_api, user, product_factory())
    authenticate(paid.payment_intent_id, secret, approve=True)  # no webhook ever came
    other = user_factory(name="Walked Away")
    give_credits(other, 1)
    abandoned, _ = waiting_for_3ds(stripe_api, other, product_factory(), credits=1)
    long_ago = timezone.now() - timedelta(seconds=settings.STRIPE_PAYMENT_TIMEOUT_SECONDS + 60)
    Purchase.objects.update(updated_at=long_ago, created_at=long_ago)

    call_command("reconcile_credits", verbosity=0)

    paid.refresh_from_db()
    abandoned.refresh_from_db()
    other.refresh_from_db()
    assert paid.status == PurchaseStatus.COMPLETED
    assert abandoned.status == PurchaseStatus.FAILED and other.credits == 1
    assert stripe_api.v1.payment_intents.retrieve(abandoned.payment_intent_id).status == "canceled"


def test_reconcile_leaves_what_stripe_cannot_answer_for_and_repairs_the_rest(
    settings, stripe_api, user, product_factory
):
    purchase, _ = waiting_for_3ds(stripe_api, user, product_factory())
    Purchase.objects.update(updated_at=timezone.now() - timedelta(hours=2))
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # Stripe unreachable for this run

    with pytest.raises(CommandError, match="could not be repaired now"):
        call_command("reconcile_credits", verbosity=0)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING


def test_a_refund_returns_the_card_part_through_stripe_and_the_credits(
    stripe_api, user, staff_user, product_factory
):
    give_credits(user, 2)
    purchase = buy(user, product_factory(price=Decimal("32.99")), credits=2)

    assert purchase_refund(purchase=purchase, actor=staff_user)
    assert not purchase_refund(purchase=purchase, actor=staff_user)  # once

    refunds = stripe_api.v1.refunds.list(params={"payment_intent": purchase.payment_intent_id})
    user.refresh_from_db()
    assert [r.amount for r in refunds.data] == [1299]
    assert purchase.status == PurchaseStatus.REFUNDED and user.credits == 2


def test_a_refund_stripe_refuses_records_nothing(settings, user, staff_user, product_factory):
    purchase = buy(user, product_factory())
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    with pytest.raises(CheckoutError, match="not answering"):
        purchase_refund(purchase=purchase, actor=staff_user)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.COMPLETED
