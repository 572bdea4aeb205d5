"""Where a product's page and cover live, worked out once per process.

A catalog page shows up to 24 product cards; each needs its page's address,
its cover's address and the placeholder's hashed static name. Reversing the
routes and resolving the static name for every card was a measurable part of
the page's time; the prefixes never change while the process runs.
"""

from functools import cache

from django.templatetags.static import static
from django.urls import reverse

_MARKER = "0" * 24  # an ObjectId-shaped stand-in, split out of the reversed URLs


@cache
def product_url_parts() -> dict[str, str]:
    detail_start, detail_end = reverse("purchases:product_detail", args=[_MARKER]).split(_MARKER)
    cover_start, cover_end = reverse("catalog:cover", args=[_MARKER]).split(_MARKER)
    return {
        "detail": detail_start,
        "detail_end": detail_end,
        "cover": cover_start,
        "cover_end": cover_end,
        "placeholder": static("img/placeholder.svg"),
    }


def product_urls(request) -> dict:
    """``product_urls``: the prefixes and suffixes the product card and cover templates join."""
    return {"product_urls": product_url_parts()}
