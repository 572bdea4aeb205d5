"""/products/<id>/: the product, and the way to buy it or to its receipt."""

from decimal import Decimal
from urllib.parse import quote

import pytest

from catalog.models import Category
from referral_site.db_monitoring import count_commands


def test_product_page_shows_everything_about_the_product(client, product_factory):
    product = product_factory(
        title="Clean Code",
        author="Robert C. Martin",
        price=Decimal("32.99"),
        description="A handbook of agile software craftsmanship",
        category=Category.EBOOK,
        image_url="https://example.com/clean-code.jpg",
    )

    response = client.get(f"/products/{product.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Clean Code",
        "Robert C. Martin",
        "A handbook of agile software craftsmanship",
        "$32.99",
        "Ebook",
        'src="https://example.com/clean-code.jpg"',
    ):
        assert text in html


def test_a_product_without_an_image_shows_the_placeholder(client, product_factory):
    product = product_factory(image_url="")

    response = client.get(f"/products/{product.pk}/")

    assert 'src="/static/img/placeholder.svg"' in response.content.decode()


def test_signed_out_buy_leads_to_sign_in_then_checkout(client, product_factory):
    product = product_factory()

    response = client.get(f"/products/{product.pk}/")

    next_url = quote(f"/checkout/{product.pk}/", safe="")
    assert f'href="/accounts/login/?next={next_url}">Buy</a>' in response.content.decode()


def test_signed_in_buy_leads_to_checkout(client, user, product_factory):
    product = product_factory()
    client.force_login(user)

    response = client.get(f"/products/{product.pk}/")

    html = response.content.decode()
    assert f'href="/checkout/{product.pk}/">Buy</a>' in html
    assert "You bought this" not in html


def test_a_buyer_is_told_and_linked_to_the_receipt(client, user, product_factory, make_purchase):
    product = product_factory()
    purchase = make_purchase(user=user, product=product, amount="19.99")
    client.force_login(user)

    response = client.get(f"/products/{product.pk}/")

    html = response.content.decode()
    assert "You bought this on" in html
    assert f'<a href="/purchases/{purchase.pk}/">View your receipt</a>' in html
    assert ">Buy</a>" not in html


def test_the_receipt_link_goes_to_the_latest_purchase(client, user, product_factory, make_purchase):
    product = product_factory()
    make_purchase(user=user, product=product, amount="19.99")
    latest = make_purchase(user=user, product=product, amount="19.99")
    client.force_login(user)

    response = client.get(f"/products/{product.pk}/")

    assert f'href="/purchases/{latest.pk}/"' in response.content.decode()


def test_someone_elses_purchase_does_not_count(
    client, user, user_factory, product_factory, make_purchase
):
    product = product_factory()
    make_purchase(user=user_factory(), product=product, amount="19.99")
    client.force_login(user)

    response = client.get(f"/products/{product.pk}/")

    html = response.content.decode()
    assert "You bought this" not in html
    assert f'href="/checkout/{product.pk}/">Buy</a>' in html


@pytest.mark.parametrize("signed_in", [False, True])
def test_an_unknown_product_id_is_a_404(client, user, signed_in):
    if signed_in:
        client.force_login(user)
    response = client.get("/products/6b0908809f86cb17d97f983f/")

    assert response.status_code == 404


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_malformed_product_id_is_a_404(client, user, signed_in):
    if signed_in:
        client.force_login(user)
    for bad in ("not-an-id", "123", "6b0908809f86cb17d97f983", "zzzzzzzzzzzzzzzzzzzzzzzz"):
        response = client.get(f"/products/{bad}/")

        assert response.status_code == 404, bad


def test_a_declined_or_refunded_purchase_does_not_count_as_bought(
    client, user, product_factory, make_purchase
):
    product = product_factory()
    make_purchase(user=user, product=product, amount="19.99", status="failed")
    make_purchase(user=user, product=product, amount="19.99", status="refunded")
    client.force_login(user)

    html = client.get(f"/products/{product.pk}/").content.decode()

    assert "You bought this" not in html
    assert f'href="/checkout/{product.pk}/">Buy</a>' in html


@pytest.mark.parametrize("history", [0, 12])
def test_the_page_reads_the_product_and_what_was_bought_in_one_command(
    client, user, product_factory, make_purchase, history
):
    product = product_factory()
    for _ in range(history):
        make_purchase(user=user, product=product_factory(), amount="9.99")
    bought = make_purchase(user=user, product=product, amount="19.99") if history else None

    with count_commands() as visitor:
        assert client.get(f"/products/{product.pk}/").status_code == 200
    client.force_login(user)
    with count_commands() as buyer:
        html = client.get(f"/products/{product.pk}/").content.decode()

    assert visitor.names() == ["find products"]
    # The session, the user, then the product with the purchases appended.
    assert buyer.names() == ["find django_session", "find users", "aggregate purchases"]
    assert ("You bought this" in html) == (bought is not None)
