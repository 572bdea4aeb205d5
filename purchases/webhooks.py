"""Stripe webhooks: verified by signature, applied, then recorded once per event id.

The events are the truth about payments (the customer may have closed the
tab): a succeeded payment completes its purchase, a failed or cancelled one
fails it (its credits come back once), a refund made in Stripe's dashboard
marks the purchase refunded, a dispute flags it for staff. An event is
recorded only after its effects are stored, so a crash in between means
Stripe delivers it again and the (idempotent) effects run again. Anything
unknown or oddly shaped is acknowledged with 200, so Stripe stops retrying.
"""

import logging

import stripe
from bson import ObjectId
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from purchases.gateways import CardDeclined, PaymentError, get_gateway, intent_from
from purchases.models import PaymentEvent, Purchase
from purchases.services import (
    purchase_flag_dispute,
    purchase_mark_refunded,
    purchase_payment_failed,
    purchase_payment_succeeded,
)

logger = logging.getLogger(__name__)

HANDLED_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "charge.dispute.created",
)


@csrf_exempt  # Stripe cannot send our CSRF token; the signature authenticates it.
@require_POST
def stripe_webhook(request):
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return HttpResponse("webhooks are not configured", status=404)
    try:
        event = stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature", ""), secret
        )
    except ValueError:
        return HttpResponse("invalid payload", status=400)
    except stripe.SignatureVerificationError:
        logger.warning("stripe webhook rejected: bad signature")
        return HttpResponse("invalid signature", status=400)
    try:
        return JsonResponse(handle_stripe_event(event.to_dict()))
    except (PaymentError, CardDeclined):
        # Stripe could not be asked about it just now: a 5xx makes it retry later.
        return HttpResponse("payment provider unavailable; retry", status=503)


def handle_stripe_event(event: dict) -> dict:
    """Apply a verified event once; a repeat delivery changes nothing."""
    event_id, kind = str(event.get("id", "")), str(event.get("type", ""))
    if PaymentEvent.objects.filter(event_id=event_id).exists():
        return {"received": True, "duplicate": True}
    obj = (event.get("data") or {}).get("object")
    purchase = None
    if kind in HANDLED_EVENTS and isinstance(obj, dict):
        purchase = _apply(kind, obj)
    try:
        PaymentEvent.objects.create(event_id=event_id, type=kind[:100], purchase=purchase)
    except IntegrityError:
        return {"received": True, "duplicate": True}
    if purchase is None:
        return {"received": True, "purchase": None}
    return {"received": True, "purchase": str(purchase.pk), "status": purchase.status}


def _apply(kind: str, obj: dict) -> Purchase | None:
    if kind.startswith("payment_intent."):
        intent = intent_from(obj)
        purchase = _purchase_of(intent.purchase_id)
        if purchase is None:
            return None
        if kind == "payment_intent.succeeded":
            purchase_payment_succeeded(purchase=purchase, intent=intent)
        else:
            purchase_payment_failed(purchase=purchase, intent=intent)
        return purchase
    # A charge or a dispute names its PaymentIntent; ask Stripe which purchase it is for.
    intent_id = obj.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id:
        return None
    intent = get_gateway().retrieve_intent(intent_id)
    purchase = _purchase_of(intent.purchase_id)
    if purchase is None or purchase.payment_intent_id != intent.id:
        return None
    if kind == "charge.refunded":
        if int(obj.get("amount_refunded") or 0) >= int(obj.get("amount") or 0) > 0:
            purchase_mark_refunded(purchase=purchase)
        else:
            logger.warning("partial refund in Stripe for purchase %s left as is", purchase.pk)
    elif kind == "charge.dispute.created":
        purchase_flag_dispute(purchase=purchase)
        logger.warning("card payment disputed for purchase %s", purchase.pk)
    purchase.refresh_from_db()
    return purchase


def _purchase_of(purchase_id: str) -> Purchase | None:
    if not ObjectId.is_valid(purchase_id):
        return None  # not ours (or malformed): acknowledged all the same
    return Purchase.objects.filter(pk=ObjectId(purchase_id)).first()
