"""Reads for the catalog. Single-collection queries on indexed fields only."""

from catalog.models import Product

FEATURED_COUNT = 8


def product_list_featured(*, limit: int = FEATURED_COUNT) -> list[Product]:
    return list(Product.objects.order_by("-created_at")[:limit])
