"""Product cards and covers written in Python match the templates they replaced.

The templates below are the last versions of catalog/_product_card.html and
catalog/_cover.html; catalog.html must write the same markup (compared as
parsed HTML) for every kind of product: a stored cover with and without its
size, an image URL, neither, and text that needs escaping.
"""

from decimal import Decimal

import pytest
from bson import ObjectId
from django.template import engines
from django.test.html import parse_html
from django.urls import reverse

from catalog import html
from catalog.models import Product

OLD_COVER = (
    '<img class="{{ css_class|default:\'product-image\' }}" src="{% if product.cover %}'
    "{% url 'catalog:cover' product.pk %}{% elif product.image_url %}{{ product.image_url }}"
    "{% else %}{% static 'img/placeholder.svg' %}{% endif %}\" alt=\"{{ alt|default:'' }}\" "
    'loading="{{ loading|default:\'lazy\' }}" decoding="async" width="{% if product.cover and '
    'product.cover_width %}{{ product.cover_width }}{% else %}320{% endif %}" height="{% if '
    'product.cover and product.cover_height %}{{ product.cover_height }}{% else %}200{% endif %}" '
    "data-fallback=\"{% static 'img/placeholder.svg' %}\">"
)
OLD_CARD = (
    '<li class="product-card"><a href="{% url \'purchases:product_detail\' product.pk %}" '
    'class="product-link">' + OLD_COVER + '<h3 class="product-title">{{ product.title }}</h3>'
    '</a><span class="product-author">{{ product.author }}</span><span class="product-meta">'
    '<span class="product-category">{{ product.get_category_display }}</span> '
    '<span class="product-price">${{ product.price }}</span></span></li>'
)


def old(markup: str, **context) -> str:
    return engines["django"].from_string("{% load static %}" + markup).render(context)


def products() -> list[Product]:
    def make(**fields) -> Product:
        return Product(
            pk=ObjectId(),
            title=fields.pop("title", "Clean Code"),
            author=fields.pop("author", "Robert C. Martin"),
            price=fields.pop("price", Decimal("32.99")),
            category=fields.pop("category", "ebook"),
            **fields,
        )

    return [
        make(cover="covers/a/cover.png", cover_width=600, cover_height=900),
        make(cover="covers/b/cover.png"),  # stored, size unknown
        make(image_url="https://example.com/c.jpg?x=1&y=2"),
        make(title='<script>alert("x")</script> & Co', author="O'Brien <b>", price=Decimal("20")),
        make(category="software", price=Decimal("0.50")),
    ]


@pytest.mark.parametrize("index", range(5))
def test_cards_match_the_template(index):
    product = products()[index]
    assert parse_html(html.product_card(product)) == parse_html(old(OLD_CARD, product=product))


@pytest.mark.parametrize("index", range(5))
def test_covers_match_the_template(index):
    product = products()[index]
    ours = html.product_cover(product, css_class="checkout-cover", loading="eager", alt="Cover")
    theirs = old(
        OLD_COVER, product=product, css_class="checkout-cover", loading="eager", alt="Cover"
    )
    assert parse_html(ours) == parse_html(theirs)


def test_a_grid_is_its_cards_in_order():
    items = products()
    grid = html.product_cards(items)
    assert parse_html(grid) == parse_html("".join(html.product_card(p) for p in items))
    assert grid.index(str(items[0].pk)) < grid.index(str(items[-1].pk))
    assert reverse("purchases:product_detail", args=[items[2].pk]) in grid
