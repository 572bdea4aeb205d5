"""/products/: browse, filter, sort, page; htmx fragments; bad query values."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from catalog.models import Category, Product
from catalog.selectors import PAGE_SIZE

HTMX = {"HX-Request": "true"}


def titles(response) -> list[str]:
    return [product.title for product in response.context["products"]]


def set_created(product: Product, moment: datetime) -> None:
    Product.objects.filter(pk=product.pk).update(created_at=moment)


def test_catalog_shows_title_author_price_category_and_image(client, product_factory):
    product_factory(
        title="Clean Code",
        author="Robert C. Martin",
        price=Decimal("32.99"),
        category=Category.EBOOK,
        image_url="https://example.com/clean-code.jpg",
    )
    product_factory(title="No Picture", image_url="")

    response = client.get("/products/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Clean Code" in html
    assert "Robert C. Martin" in html
    assert "$32.99" in html
    assert "Ebook" in html
    assert 'src="https://example.com/clean-code.jpg"' in html
    # The product without an image shows the placeholder, and every image
    # names it as the fallback that static/js/site.js swaps in on a load error
    # (no inline handler: the Content-Security-Policy forbids them).
    assert 'src="/static/img/placeholder.svg"' in html
    assert html.count('data-fallback="/static/img/placeholder.svg"') == 2
    assert "onerror" not in html


def test_category_filter_shows_only_that_category(client, product_factory):
    product_factory(title="An Ebook", category=Category.EBOOK)
    product_factory(title="A Course", category=Category.COURSE)

    response = client.get("/products/", {"category": "course"})

    assert titles(response) == ["A Course"]


def test_price_range_includes_both_ends(client, product_factory):
    for price in ("4.99", "5.00", "20.00", "20.01"):
        product_factory(title=f"At {price}", price=Decimal(price))

    response = client.get("/products/", {"min_price": "5", "max_price": "20", "sort": "price_asc"})

    assert titles(response) == ["At 5.00", "At 20.00"]


def test_default_order_is_newest_first(client, product_factory):
    now = datetime.now(UTC)
    old, new, middle = (product_factory(title=t) for t in ("Old", "New", "Middle"))
    set_created(old, now - timedelta(days=3))
    set_created(middle, now - timedelta(days=2))
    set_created(new, now - timedelta(days=1))

    response = client.get("/products/")

    assert titles(response) == ["New", "Middle", "Old"]


def test_sorting_by_price_both_ways(client, product_factory):
    for title, price in (("Mid", "20.00"), ("Cheap", "5.00"), ("Dear", "99.00")):
        product_factory(title=title, price=Decimal(price))

    ascending = client.get("/products/", {"sort": "price_asc"})
    descending = client.get("/products/", {"sort": "price_desc"})

    assert titles(ascending) == ["Cheap", "Mid", "Dear"]
    assert titles(descending) == ["Dear", "Mid", "Cheap"]


def test_pages_hold_24_products_and_links_keep_the_filters(client, product_factory):
    for n in range(PAGE_SIZE + 5):
        product_factory(title=f"Course {n:02}", category=Category.COURSE, price=Decimal(n))
    product_factory(title="Other thing", category=Category.OTHER)

    first = client.get("/products/", {"category": "course", "sort": "price_asc"})
    second = client.get("/products/", {"category": "course", "sort": "price_asc", "page": "2"})

    assert titles(first) == [f"Course {n:02}" for n in range(PAGE_SIZE)]
    assert titles(second) == [f"Course {n:02}" for n in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert 'href="/products/?category=course&amp;sort=price_asc&amp;page=2"' in (
        first.content.decode()
    )
    assert 'href="/products/?category=course&amp;sort=price_asc"' in second.content.decode()
    assert "Showing 25–29 of 29 products" in second.content.decode()


def test_a_page_past_the_end_shows_the_last_page_with_a_message(client, product_factory):
    for n in range(PAGE_SIZE + 1):
        product_factory(title=f"Product {n}")

    response = client.get("/products/", {"page": "7"})

    assert response.status_code == 200
    assert response.context["page"].number == 2
    assert len(titles(response)) == 1
    assert "There is no page 7; showing the last page, 2." in response.content.decode()


def test_a_non_numeric_or_negative_page_shows_the_first_page(client, product_factory):
    product_factory(title="Only one")

    for page in ("abc", "-1", "0", "2.5"):
        response = client.get("/products/", {"page": page})

        assert response.status_code == 200
        assert response.context["page"].number == 1
        assert titles(response) == ["Only one"]


def test_bad_filter_values_are_ignored_with_a_message(client, product_factory):
    product_factory(title="Cheap", price=Decimal("5.00"), category=Category.EBOOK)
    product_factory(title="Dear", price=Decimal("50.00"), category=Category.COURSE)

    response = client.get(
        "/products/",
        {"min_price": "-5", "max_price": "lots", "category": "spaceships", "sort": "random"},
    )

    assert response.status_code == 200
    assert sorted(titles(response)) == ["Cheap", "Dear"]
    html = response.content.decode()
    assert "Ignored the minimum price" in html
    assert "Ignored the maximum price" in html
    assert "Ignored the category: there is no such category." in html
    assert "Ignored the sort order" in html
    # The form shows what was applied, not the bad values.
    assert 'value="-5"' not in html
    assert 'value="lots"' not in html


def test_a_minimum_above_the_maximum_is_swapped(client, product_factory):
    product_factory(title="Ten", price=Decimal("10.00"))
    product_factory(title="Hundred", price=Decimal("100.00"))

    response = client.get("/products/", {"min_price": "50", "max_price": "5"})

    assert titles(response) == ["Ten"]
    assert "the two were swapped" in response.content.decode()


def test_no_results_says_so_and_offers_to_clear_the_filters(client, product_factory):
    product_factory(title="An Ebook", category=Category.EBOOK)

    response = client.get("/products/", {"category": "software"})

    html = response.content.decode()
    assert "No products match these filters." in html
    assert '<a class="button" href="/products/">Clear the filters</a>' in html


def test_the_filters_work_as_a_plain_get_form(client, product_factory):
    product_factory()

    response = client.get("/products/", {"q": "x", "category": "ebook"})

    html = response.content.decode()
    assert 'method="get" action="/products/"' in html
    assert '<button type="submit" class="button">Apply filters</button>' in html
    assert 'name="q"' in html and 'type="search"' in html
    assert '<option value="ebook" selected>' in html


def test_htmx_request_gets_only_the_results_fragment(client, product_factory):
    product_factory(title="Clean Code", category=Category.EBOOK)
    product_factory(title="A Course", category=Category.COURSE)

    response = client.get("/products/", {"category": "ebook", "q": ""}, headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html and "<form" not in html
    assert "Clean Code" in html and "A Course" not in html
    assert "HX-Request" in response["Vary"]
    # The address bar gets the applied filters, empty ones left out.
    assert response["HX-Push-Url"] == "/products/?category=ebook"


def test_full_page_also_varies_on_hx_request(client, product_factory):
    product_factory()

    response = client.get("/products/")

    assert "<html" in response.content.decode()
    assert "HX-Request" in response["Vary"]
    assert "HX-Push-Url" not in response


def test_htmx_fragment_carries_its_own_messages(client, product_factory):
    product_factory(title="Anything")

    response = client.get("/products/", {"min_price": "-1"}, headers=HTMX)

    assert "Ignored the minimum price" in response.content.decode()
    assert response["HX-Push-Url"] == "/products/"


def test_htmx_history_restore_gets_the_whole_page(client, product_factory):
    product_factory()

    response = client.get("/products/", headers={**HTMX, "HX-History-Restore-Request": "true"})

    assert "<html" in response.content.decode()
    assert "HX-History-Restore-Request" in response["Vary"]


def test_htmx_page_links_have_real_hrefs(client, product_factory):
    for n in range(PAGE_SIZE + 1):
        product_factory(title=f"Product {n}")

    response = client.get("/products/", headers=HTMX)

    html = response.content.decode()
    assert 'href="/products/?page=2" hx-get="/products/?page=2"' in html


def test_post_is_not_allowed(client):
    response = client.post("/products/")

    assert response.status_code == 405
