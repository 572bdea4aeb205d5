"""Reads for purchases: single-collection queries on indexed fields."""

from bson import ObjectId
from bson.errors import InvalidId
from django.http import Http404

from purchases.models import Purchase


def object_id_or_404(value) -> ObjectId:
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        raise Http404("Not found") from None


def purchase_get_for_user(*, user, purchase_id) -> Purchase:
    """The user's own purchase; someone else's (or none) is a 404."""
    purchase = Purchase.objects.filter(pk=object_id_or_404(purchase_id), user=user).first()
    if purchase is None:
        raise Http404("No such purchase")
    return purchase


def purchase_list_for_user(*, user):
    """Newest first, on the userId index; the caller paginates."""
    return Purchase.objects.filter(user=user).order_by("-created_at")
