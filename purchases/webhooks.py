"""Stripe webhook: verified by signature, recorded once per event id."""

import logging

import stripe
from bson import ObjectId
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from purchases.models import PaymentEvent, Purchase
from purchases.services import purchase_fail, purchase_mark_paid, purchase_resume

logger = logging.getLogger(__name__)


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
    return JsonResponse(handle_stripe_event(event.to_dict()))


def handle_stripe_event(event) -> dict:
    """Apply a verified event once; a repeat delivery changes nothing."""
    intent = event["data"]["object"]
    purchase = None
    purchase_id = (intent.get("metadata") or {}).get("purchase_id")
    if purchase_id and ObjectId.is_valid(purchase_id):
        # Not ours (or malformed): recorded and acknowledged, so Stripe stops retrying.
        purchase = Purchase.objects.filter(pk=ObjectId(purchase_id)).first()
    try:
        PaymentEvent.objects.create(event_id=event["id"], type=event["type"], purchase=purchase)
    except IntegrityError:
        return {"received": True, "duplicate": True}
    if purchase is None:
        return {"received": True, "purchase": None}
    if event["type"] == "payment_intent.succeeded":
        if purchase_mark_paid(purchase=purchase, payment_intent_id=intent["id"]):
            purchase_resume(purchase=purchase)
    elif event["type"] == "payment_intent.payment_failed":
        error = intent.get("last_payment_error") or {}
        purchase_fail(purchase=purchase, reason=error.get("message") or "Payment failed")
    return {"received": True, "purchase": str(purchase.pk), "status": purchase.status}
