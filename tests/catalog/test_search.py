"""Title search: the text index for whole words, a substring match otherwise."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category
from catalog.selectors import PAGE_SIZE, product_search
from referral_site.db import text_search

HTMX = {"HX-Request": "true"}


def titles(response) -> list[str]:
    return sorted(product.title for product in response.context["products"])


def used_text_index(queries) -> bool:
    return any("$text" in query["sql"] for query in queries)


def test_a_whole_word_uses_the_text_index_and_matches_words_not_substrings(client, product_factory):
    # Given a title containing "clean" only inside a longer word
    product_factory(title="Clean Code")
    product_factory(title="The Clean Coder")
    product_factory(title="Unclean Kitchens")
    product_factory(title="Refactoring")

    # When searching for the whole word, in any case
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/products/", {"q": "CLEAN"})

    # Then only titles with the word match, found through the text index
    assert titles(response) == ["Clean Code", "The Clean Coder"]
    assert used_text_index(queries.captured_queries)


def test_several_words_match_titles_with_any_of_them(client, product_factory):
    product_factory(title="Clean Code")
    product_factory(title="Refactoring Databases")
    product_factory(title="Startup Pitch Deck")

    response = client.get("/products/", {"q": "clean   refactoring"})

    assert titles(response) == ["Clean Code", "Refactoring Databases"]


def test_a_partly_typed_word_falls_back_to_a_substring_match(client, product_factory):
    # What the live search box sends while someone is still typing "clean".
    product_factory(title="Clean Code")
    product_factory(title="Unclean Kitchens")
    product_factory(title="Refactoring")

    response = client.get("/products/", {"q": "clea"})

    assert titles(response) == ["Clean Code", "Unclean Kitchens"]


def test_punctuation_is_searched_as_typed_without_the_text_index(client, product_factory):
    product_factory(title="C++ Primer")
    product_factory(title="C for Beginners")

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/products/", {"q": "c++"})

    assert titles(response) == ["C++ Primer"]
    assert not used_text_index(queries.captured_queries)


def test_without_a_text_index_search_is_a_case_insensitive_substring_match(
    client, product_factory, without_text_index
):
    product_factory(title="Clean Code")
    product_factory(title="Unclean Kitchens")
    product_factory(title="Refactoring")

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/products/", {"q": "CLEAN"})

    assert titles(response) == ["Clean Code", "Unclean Kitchens"]
    assert not used_text_index(queries.captured_queries)


def test_an_index_dropped_after_it_was_seen_falls_back_instead_of_failing(
    client, product_factory, without_text_index, monkeypatch
):
    # Given a process that still believes the index exists
    monkeypatch.setitem(text_search._text_index_seen, "products", (float("inf"), True))
    product_factory(title="Clean Code")

    response = client.get("/products/", {"q": "clean"})

    assert response.status_code == 200
    assert titles(response) == ["Clean Code"]
    assert "products" not in text_search._text_index_seen  # looks again next time


def test_the_index_check_is_made_once_and_then_remembered(db, product_factory):
    product_factory(title="Clean Code")

    with CaptureQueriesContext(connection) as first:
        list(product_search(q="clean")[:PAGE_SIZE])
    with CaptureQueriesContext(connection) as second:
        list(product_search(q="clean")[:PAGE_SIZE])

    index_checks = [q for q in first.captured_queries if "index_information" in q["sql"]]
    assert len(index_checks) == 1
    assert not any("index_information" in q["sql"] for q in second.captured_queries)


def test_text_search_combines_with_category_and_price(client, product_factory):
    product_factory(title="Python Basics", category=Category.EBOOK, price=Decimal("10.00"))
    product_factory(title="Python Course", category=Category.COURSE, price=Decimal("10.00"))
    product_factory(title="Python Mastery", category=Category.COURSE, price=Decimal("90.00"))

    response = client.get("/products/", {"q": "python", "category": "course", "max_price": "50"})

    assert titles(response) == ["Python Course"]


def test_text_search_pages_and_sorts_like_any_listing(client, product_factory):
    for n in range(PAGE_SIZE + 3):
        product_factory(title=f"Guide number {n}", price=Decimal(100 - n))
    product_factory(title="Unrelated", price=Decimal("1.00"))

    first = client.get("/products/", {"q": "guide", "sort": "price_asc"})
    second = client.get("/products/", {"q": "guide", "sort": "price_asc", "page": "2"})

    first_prices = [p.price for p in first.context["products"]]
    second_prices = [p.price for p in second.context["products"]]
    assert first_prices == [Decimal(p) for p in range(100 - PAGE_SIZE - 2, 100 - 2)]
    assert second_prices == [Decimal(98), Decimal(99), Decimal(100)]
    assert first.context["page"].count == PAGE_SIZE + 3
    assert "Unrelated" not in first.content.decode() + second.content.decode()


def test_text_search_results_are_whole_products(db, product_factory):
    made = product_factory(
        title="Clean Code",
        author="Robert C. Martin",
        price=Decimal("32.99"),
        category=Category.EBOOK,
    )

    results = product_search(q="clean")
    page = results[0:PAGE_SIZE]

    assert isinstance(results, text_search.TextSearchResults)
    assert page == [made]
    assert page[0].price == Decimal("32.99") and page[0].author == "Robert C. Martin"


def test_live_search_returns_the_fragment_and_pushes_the_search_url(client, product_factory):
    product_factory(title="Clean Code")

    response = client.get("/products/", {"q": " clean  code "}, headers=HTMX)

    assert response["HX-Push-Url"] == "/products/?q=clean+code"
    assert "Clean Code" in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_a_very_long_search_is_shortened_with_a_message(client, product_factory):
    product_factory(title="Clean Code")

    response = client.get("/products/", {"q": "clean " + "x" * 300})

    assert response.status_code == 200
    assert "The search was shortened" in response.content.decode()
    assert len(response.context["form"].initial["q"]) <= 100
