"""The receipt e-mail: sent once a purchase is completed and stored, never undoing it."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

logger = logging.getLogger(__name__)


def order_number(purchase) -> str:
    """A short reference a customer can read out: the purchase id's last 8 digits."""
    return str(purchase.pk)[-8:].upper()


def send_receipt(*, purchase, buyer) -> bool:
    """Mail the buyer their receipt; False (logged without the address) when mail fails."""
    if not buyer.email:
        return False
    context = {
        "purchase": purchase,
        "name": buyer.name,
        "order": order_number(purchase),
        "library_url": settings.SITE_URL.rstrip("/") + reverse("purchases:library"),
        "receipt_url": settings.SITE_URL.rstrip("/")
        + reverse("purchases:detail", args=[purchase.pk]),
    }
    subject = f"Your receipt for {purchase.product_name} (order {context['order']})"
    try:
        send_mail(
            subject, render_to_string("purchases/receipt_email.txt", context), None, [buyer.email]
        )
    except Exception as exc:  # noqa: BLE001 - mail trouble must not undo a stored purchase
        # The exception's text can hold the address: log its type only.
        logger.error("receipt e-mail failed for purchase %s: %s", purchase.pk, type(exc).__name__)
        return False
    return True
