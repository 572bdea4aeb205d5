# ruff: noqa: E501 - the replaced template lines are kept as they were
"""The product page's article and the checkout's summary, fields and order
summary in Python match the templates they replaced.

The product page's template below is the last content block of
purchases/product_detail.html; it must be written the same in every state a
visitor sees: signed out, signed in, bought with a file to download or
without, a stored cover, and text that needs escaping. The others are the
last version of those parts of purchases/checkout.html, which rendered a CheckoutForm on every view;
purchases.html must write the same markup (compared as parsed HTML) in every
state the page shows: a first view (no form: the page writes the inputs
itself), credits to choose or none (no balance, a product too cheap), fully
paid with credits, one credit, a form with every kind of error, a declined
payment, and text that needs escaping.
"""

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from bson import ObjectId
from django.conf import settings
from django.template import engines
from django.test.html import parse_html

from catalog.models import Product
from purchases import html
from purchases.html import credit_options
from purchases.services import checkout_preview
from purchases.views import _checkout_form
from referral_site.intents import new_intent_token

OLD_SUMMARY = (
    '  <section class="card checkout-summary" aria-labelledby="product-heading">\n'
    '    {% product_cover product css_class="checkout-cover" loading="eager" %}\n'
    '    <h2 id="product-heading">{{ product.title }}</h2>\n'
    '    <p class="muted">by {{ product.author }} · {{ product.get_category_display }}</p>\n'
    "    <p>Price: <strong>${{ quote.price }}</strong></p>\n"
    '    <p>Your balance: <strong id="balance">{{ balance }} credit{{ balance|pluralize }}</strong>\n'
    "      (each worth ${{ credit_value }})</p>\n"
    '    <p class="muted" id="credits-rule">Credits count in whole credits of ${{ credit_value }},\n'
    "      never more than the price or your balance; your card pays the rest (at least $0.50, or nothing).</p>\n"
    "  </section>"
)
OLD_FIELDS = (
    "    {{ form.token }}\n"
    "    {{ form.payment_method_id }}\n"
    '    {% if form.non_field_errors %}<ul class="errorlist" role="alert">{% for e in form.non_field_errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}\n'
    '    {% if form.token.errors %}<ul class="errorlist" role="alert">{% for e in form.token.errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}\n'
    "    {% if quote.max_credits %}\n"
    '    <div class="field">\n'
    '      <label for="{{ form.credits.id_for_label }}">{{ form.credits.label }}</label>\n'
    '      <select name="credits" id="{{ form.credits.id_for_label }}"\n'
    '              hx-get="{{ path }}" hx-target="#breakdown" hx-trigger="change"\n'
    '              hx-swap="outerHTML" hx-indicator="#breakdown" hx-disabled-elt="#pay-button"\n'
    '              aria-describedby="credits-help">\n'
    "        {{ credit_options }}\n"
    "      </select>\n"
    '      <span class="helptext" id="credits-help">Up to {{ quote.max_credits }} credit{{ quote.max_credits|pluralize }} on this product.</span>\n'
    '      {% if form.credits.errors %}<ul class="errorlist">{% for e in form.credits.errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}\n'
    "    </div>\n"
    "    {% else %}\n"
    '    <input type="hidden" name="credits" value="0">\n'
    '    <p class="muted" id="credits-help">{% if balance %}This product is too cheap to pay with credits.{% else %}No credits to use yet: invite friends from your dashboard to earn some.{% endif %}</p>\n'
    "    {% endif %}\n"
    "\n"
    '    <fieldset class="card-section" id="card-section"{% if quote.cash_amount == 0 %} hidden{% endif %}>\n'
    "      <legend>Card</legend>\n"
    '      <div id="card-element" class="card-element" aria-describedby="card-errors"></div>\n'
    '      <noscript><p class="form-alert">Paying by card needs JavaScript. A purchase paid fully with credits works without it.</p></noscript>\n'
    '      <div id="card-errors" class="errorlist" role="alert">{% if payment_error %}<p id="payment-error">{{ payment_error }} Your credits were not used; you can try again.</p>{% endif %}{% for e in form.payment_method_id.errors %}<p>{{ e }}</p>{% endfor %}</div>\n'
    '      <p class="muted">Card details go straight to our payment provider, Stripe; they never reach our server.</p>\n'
    "    </fieldset>"
)

OLD_BREAKDOWN = (
    '    <div id="breakdown" class="breakdown" aria-live="polite" data-cash-cents="{{ quote.cash_cents }}">\n'
    "      <h2>Order summary</h2>\n"
    "      <table>\n"
    '        <tr><th scope="row">Price</th><td>${{ quote.price }}</td></tr>\n'
    '        <tr><th scope="row">Credits used</th><td id="credits-used">{{ quote.credits_used }}</td></tr>\n'
    '        <tr><th scope="row">Paid with credits</th><td id="credit-amount">−${{ quote.credit_amount }}</td></tr>\n'
    '        <tr><th scope="row">To pay by card</th><td id="cash-amount"><strong>${{ quote.cash_amount }}</strong></td></tr>\n'
    "      </table>\n"
    '      {% if quote.cash_amount == 0 %}<p class="muted">Fully paid with credits: no card needed.</p>{% endif %}\n'
    '      <p class="updating" aria-hidden="true">Updating…</p>\n'
    '      <p class="actions">\n'
    '        <button type="submit" name="action" value="pay" class="button button-pay" id="pay-button">{% if quote.cash_amount %}Pay ${{ quote.cash_amount }}{% else %}Get it with {{ quote.credits_used }} credit{{ quote.credits_used|pluralize }}{% endif %}</button>\n'
    "      </p>\n"
    "    </div>"
)

OLD_PRODUCT = """
<p><a href="{% url 'catalog:product_list' %}">&larr; Back to the catalog</a></p>
<article class="product-detail">
  {% product_cover product css_class="product-detail-image" loading="eager" %}
  <div class="product-detail-body">
    <p><span class="product-category">{{ product.get_category_display }}</span></p>
    <h1>{{ product.title }}</h1>
    <p class="product-author">by {{ product.author }}</p>
    <p class="product-detail-price">${{ product.price }}</p>
    {% if purchase %}
      <p class="owned message message-success">
        You bought this on {{ purchase.created_at|date:"j F Y" }}.
        <a href="{{ receipt_url }}">View your receipt</a>
      </p>
      {% if download_url %}<p><a class="button" href="{{ download_url }}">Download {{ product.file_name }}</a></p>{% endif %}
    {% elif user.is_authenticated %}
      <p><a class="button" href="{{ checkout_url }}">Buy</a></p>
    {% else %}
      <p><a class="button" href="{{ login_to_buy_url }}">Buy</a></p>
      <p class="muted">You will be asked to log in first.</p>
    {% endif %}
    <div class="product-description">{{ product.description|linebreaks }}</div>
  </div>
</article>
"""

PATH = "/checkout/x/?a=1&b=2"


def old(markup: str, **context) -> str:
    return engines["django"].from_string("{% load catalog_html %}" + markup).render(context)


STATES = {
    # name: (price, balance, credits requested, title)
    "credits to choose": ("32.99", 300, None, "Clean Code"),
    "no balance": ("32.99", 0, None, "Clean Code"),
    "too cheap": ("0.50", 300, None, "Clean Code"),
    "one credit": ("32.99", 1, None, 'Tom & "Jerry" <guide>'),
    "paid with credits": ("30.00", 300, None, "Clean Code"),
    "one credit pays all": ("10.00", 5, None, "Clean Code"),
    "errors": ("32.99", 300, "2", "Clean Code"),
    "declined": ("32.99", 300, "1", "Clean Code"),
}


def state(name: str):
    """(product, quote, balance, form or None, token, payment error) of one state of the page."""
    price, balance, requested, title = STATES[name]
    product = Product(
        pk=ObjectId(), title=title, author="O'Brien <b>", price=Decimal(price), category="ebook"
    )
    quote = checkout_preview(price=product.price, balance=balance, requested=requested)
    token, form, error = new_intent_token(), None, ""
    if name == "errors":
        data = {"token": "forged", "credits": "9999", "payment_method_id": "x" * 300}
        form = _checkout_form(quote, data)
        assert not form.is_valid()
        form.add_error(None, "Another tab spent <these> credits & more.")
    elif name == "declined":
        form = _checkout_form(quote, {"token": token, "credits": "1", "payment_method_id": ""})
        assert form.is_valid()
        error = "Your card was <declined> & not charged."
    return product, quote, balance, form, token, error


def test_the_states_cover_every_branch():
    quotes = {name: state(name)[1] for name in STATES}
    assert quotes["credits to choose"].max_credits > 1
    assert quotes["no balance"].max_credits == 0
    assert quotes["too cheap"].max_credits == 0 and STATES["too cheap"][1] > 0
    assert quotes["one credit"].max_credits == 1
    assert quotes["paid with credits"].cash_amount == 0
    assert quotes["one credit pays all"].cash_amount == 0
    assert quotes["one credit pays all"].credits_used == 1


@pytest.mark.parametrize("name", STATES)
def test_the_summary_matches_the_template(name):
    product, quote, balance, _form, _token, _error = state(name)
    value = settings.CREDIT_VALUE
    ours = html.checkout_summary(product, quote, balance=balance, credit_value=value)
    theirs = old(OLD_SUMMARY, product=product, quote=quote, balance=balance, credit_value=value)
    assert parse_html(ours) == parse_html(theirs)


@pytest.mark.parametrize("name", STATES)
def test_the_fields_match_the_template(name):
    product, quote, balance, form, token, error = state(name)
    options = credit_options(quote.choices, quote.credits_used)
    ours = html.checkout_fields(
        form,
        quote,
        token=token,
        balance=balance,
        path=PATH,
        payment_error=error,
    )
    # What the template rendered: always a form, unbound on a first view.
    shown = form or _checkout_form(quote, initial={"token": token, "credits": quote.credits_used})
    theirs = old(
        OLD_FIELDS,
        form=shown,
        quote=quote,
        balance=balance,
        path=PATH,
        credit_options=options,
        payment_error=error,
    )
    assert parse_html(ours) == parse_html(theirs)
    if form is None:
        assert f'value="{token}"' in ours
    if name in ("errors", "declined"):
        assert "&lt;" in ours and "<these>" not in ours and "<declined>" not in ours


@pytest.mark.parametrize("name", STATES)
def test_the_order_summary_matches_the_template(name):
    _product, quote, *_rest = state(name)
    ours = html.checkout_breakdown(quote)
    assert parse_html(ours) == parse_html(old(OLD_BREAKDOWN, quote=quote))


PRODUCT_STATES = ["signed out", "signed in", "bought, with a file", "bought, no file", "escaping"]


@pytest.mark.parametrize("name", PRODUCT_STATES)
def test_the_product_page_matches_the_template(name):
    product = Product(
        pk=ObjectId(),
        title="Clean Code",
        author="Robert Martin",
        price=Decimal("32.99"),
        category="course",
        description="Chapter one.\n\nChapter two,\nwith a line break.",
        image_url="https://example.com/cover.png",
    )
    signed_in = name != "signed out"
    purchase = receipt_url = download_url = None
    if name.startswith("bought"):
        purchase = {"pk": ObjectId(), "created_at": datetime(2026, 3, 7, 23, 30, tzinfo=UTC)}
        receipt_url = f"/purchases/{purchase['pk']}/"
        if name == "bought, with a file":
            product.file_name = "clean-code.pdf"
            download_url = f"/purchases/{purchase['pk']}/download/"
    if name == "escaping":
        product.title = 'Tom & "Jerry" <guide>'
        product.author = "O'Brien <b>"
        product.description = "<script>alert(1)</script>\n\nA & B"
        product.cover, product.cover_width, product.cover_height = "covers/x.png", 640, 400
    urls = {
        "checkout_url": f"/checkout/{product.pk}/",
        "login_to_buy_url": f"/accounts/login/?next=/checkout/{product.pk}/",
    }
    ours = html.product_detail(
        product,
        purchase=purchase,
        receipt_url=receipt_url,
        download_url=download_url,
        buy_url=urls["checkout_url"] if signed_in else urls["login_to_buy_url"],
        signed_in=signed_in,
    )
    user = SimpleNamespace(is_authenticated=signed_in)
    theirs = old(
        OLD_PRODUCT,
        product=product,
        purchase=purchase,
        receipt_url=receipt_url,
        download_url=download_url,
        user=user,
        **urls,
    )
    assert parse_html(ours) == parse_html(theirs)
    if name == "escaping":
        assert "<script>" not in ours and "&lt;script&gt;" in ours
    if purchase:
        assert "7 March 2026" in ours
