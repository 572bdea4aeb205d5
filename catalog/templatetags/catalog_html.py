"""{% product_cards products %} and {% product_cover product css_class=... %} (catalog.html)."""

from django import template

from catalog import html

register = template.Library()


@register.simple_tag
def product_cards(products):
    return html.product_cards(products)


@register.simple_tag
def product_cover(product, css_class="product-image", loading="lazy", alt=""):
    return html.product_cover(product, css_class=css_class, loading=loading, alt=alt)
