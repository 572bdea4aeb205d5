"""Catalog pages for visitors who are nobody yet: the same bytes for all, cacheable."""

import pytest
from django.test import Client


@pytest.fixture
def pages(product_factory):
    product = product_factory(title="Clean Code")
    return ["/", "/products/", "/products/?q=clean&sort=price_asc", f"/products/{product.pk}/"]


def test_two_visitors_get_the_same_bytes_and_a_shared_cache_may_keep_them(pages):
    for url in pages:
        first, second = Client().get(url), Client().get(url)

        assert first.status_code == second.status_code == 200, url
        assert first.content == second.content, url
        assert not first.cookies and not second.cookies, url  # no CSRF cookie, no session
        assert first["Cache-Control"] == "public, max-age=60", url
        assert "Cookie" in first["Vary"], url


def test_a_signed_in_customer_never_gets_a_shared_copy(client, user, pages):
    client.force_login(user)

    for url in pages:
        response = client.get(url)
        assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]


def test_a_visitor_with_a_cookie_gets_a_private_page(referrer, pages):
    visitor = Client()
    visitor.get(f"/r/{referrer.referral_code}/")  # the remembered code is a cookie

    response = visitor.get("/products/")

    assert "private" in response["Cache-Control"]
