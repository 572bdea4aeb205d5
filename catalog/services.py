"""Writes for the catalog."""

from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Category, Product
from referral_site.exceptions import ApplicationError


class UnknownCategoryError(ApplicationError):
    """A category outside the five of schema.md."""


def product_bulk_set_category(*, products: QuerySet[Product], category: str) -> int:
    """Move every product of ``products`` to ``category``; return how many matched.

    One update_many on the products collection, whatever the number of
    products. ``updated_at`` is set by hand because QuerySet.update() skips
    auto_now fields.
    """
    if category not in Category.values:
        raise UnknownCategoryError(f"“{category}” is not a category.", field="category")
    return products.update(category=category, updated_at=timezone.now())
