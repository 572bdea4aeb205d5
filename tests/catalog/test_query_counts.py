"""Catalog pages cost the same number of database commands at 150 and at 1,000 products.

150 is the smaller size so that page 2 of the filtered catalog exists at both
(a page past the end costs one more command: its own case below).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Product

CATEGORIES = list(Category.values)
# The most commands any catalog page may take (a signed-in page: session,
# user, then at most three for the products).
CEILING = 6
SMALL = 150


def add_products(count: int, *, start: int = 0) -> None:
    now = datetime.now(UTC)
    Product.objects.bulk_create(
        [
            Product(
                title=f"Guide to topic {n}",
                author=f"Author {n % 37}",
                description="Generated for the query-count test.",
                price=Decimal(n % 90) + Decimal("0.99"),
                category=CATEGORIES[n % 5],
                image_url="" if n % 2 else f"https://example.com/{n}.jpg",
                created_at=now - timedelta(minutes=n),
            )
            for n in range(start, start + count)
        ],
        batch_size=500,
    )


def commands_for(client, url: str, headers: dict | None = None) -> int:
    client.get(url, headers=headers)  # warm-up: the once-per-process text index check
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return len(queries.captured_queries)


def measure(client, product_id) -> dict[str, int]:
    pages = {
        "home": "/",
        "catalog": "/products/",
        "catalog, filtered, page 2": "/products/?category=ebook&min_price=5&max_price=80"
        "&sort=price_asc&page=2",
        "catalog, page past the end": "/products/?page=9999",
        "catalog, word search (text index)": "/products/?q=guide&sort=price_desc",
        "catalog, partial word (substring)": "/products/?q=guid",
        "product page": f"/products/{product_id}/",
    }
    counts = {name: commands_for(client, url) for name, url in pages.items()}
    counts["catalog, htmx fragment"] = commands_for(
        client, "/products/?category=course", {"HX-Request": "true"}
    )
    return counts


@pytest.fixture
def product_id(db):
    add_products(SMALL)
    return Product.objects.order_by("created_at").values_list("pk", flat=True).first()


def test_signed_out_pages_cost_the_same_at_150_and_1000_products(client, product_id):
    at_small = measure(client, product_id)
    add_products(1000 - SMALL, start=SMALL)
    assert Product.objects.count() == 1000

    at_1000 = measure(client, product_id)

    assert at_1000 == at_small, {name: (at_small[name], at_1000[name]) for name in at_small}
    assert max(at_1000.values()) <= CEILING


def test_signed_in_pages_cost_the_same_at_150_and_1000_products(
    client, user, product_id, make_purchase
):
    make_purchase(user=user, product=Product.objects.get(pk=product_id), amount="10.99")
    client.force_login(user)
    at_small = measure(client, product_id)
    add_products(1000 - SMALL, start=SMALL)

    at_1000 = measure(client, product_id)

    assert at_1000 == at_small, {name: (at_small[name], at_1000[name]) for name in at_small}
    assert max(at_1000.values()) <= CEILING


def test_admin_catalog_pages_cost_the_same_at_150_and_1000_products(
    client, staff_user, product_id, make_purchase
):
    make_purchase(user=staff_user, product=Product.objects.get(pk=product_id), amount="10.99")
    client.force_login(staff_user)
    pages = {
        "admin product list": "/admin/catalog/product/",
        "admin product list, filtered and searched": "/admin/catalog/product/"
        "?category__exact=ebook&q=guide",
        "admin product analytics": "/admin/catalog/product/analytics/",
        "admin product change page": f"/admin/catalog/product/{product_id}/change/",
    }
    at_small = {name: commands_for(client, url) for name, url in pages.items()}
    add_products(1000 - SMALL, start=SMALL)

    at_1000 = {name: commands_for(client, url) for name, url in pages.items()}

    assert at_1000 == at_small, {name: (at_small[name], at_1000[name]) for name in at_small}
