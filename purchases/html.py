"""The product page's article, the checkout's product summary and form fields
as HTML, written in Python.

Through the template the checkout's parts were about half of the checkout page's own time:
forty-odd variable lookups, conditions and loops over the form's errors, each
a few microseconds of the template engine, for markup that changes only with
the product, the quote and the form's errors (the order summary is also
the htmx partial the credits choice asks for). A first view (nothing
submitted, so no errors) builds no form at all: Django copies a form's fields
deeply for every instance, and the page needs only two hidden inputs and a
label from it. Values are escaped as autoescaping templates escape them
(referral_site.markup). The templates use these through the ``purchases_html``
tags; tests/purchases/test_html.py holds the markup to the templates they
replaced.
"""

from django.conf import settings
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe

from catalog.html import product_cover, product_url_parts
from credits.rules import credits_phrase
from purchases.forms import CheckoutForm, credits_label
from referral_site.formats import long_date
from referral_site.markup import esc

_CREDITS = CheckoutForm.base_fields["credits"]
_PAYMENT_ID = CheckoutForm.base_fields["payment_method_id"].widget.attrs["id"]


def product_detail(
    product,
    *,
    purchase: dict | None,
    receipt_url: str | None,
    download_url: str | None,
    buy_url: str,
    signed_in: bool,
) -> SafeString:
    """The product page's article: cover, category, title, author, price, what
    the visitor can do (the receipt and the download of a purchase, else Buy)
    and the description.

    ``purchase`` is the buyer's latest completed purchase of it ({pk,
    created_at}) or None; ``buy_url`` the checkout, or for a visitor the
    sign-in that leads there.
    """
    if purchase:
        action = (
            '<p class="owned message message-success">\n'
            f"        You bought this on {esc(long_date(purchase['created_at']))}.\n"
            f'        <a href="{esc(receipt_url)}">View your receipt</a>\n'
            "      </p>\n"
        )
        if download_url:
            action += (
                f'      <p><a class="button" href="{esc(download_url)}">'
                f"Download {esc(product.file_name)}</a></p>"
            )
    else:
        action = f'<p><a class="button" href="{esc(buy_url)}">Buy</a></p>'
        if not signed_in:
            action += '\n      <p class="muted">You will be asked to log in first.</p>'
    return mark_safe(  # noqa: S308 - every value escaped, the description by linebreaks
        f'<p><a href="{esc(product_url_parts()["list"])}">&larr; Back to the catalog</a></p>\n'
        '<article class="product-detail">\n'
        f"  {product_cover(product, css_class='product-detail-image', loading='eager')}\n"
        '  <div class="product-detail-body">\n'
        f'    <p><span class="product-category">{esc(product.get_category_display())}</span></p>\n'
        f"    <h1>{esc(product.title)}</h1>\n"
        f'    <p class="product-author">by {esc(product.author)}</p>\n'
        f'    <p class="product-detail-price">${esc(product.price)}</p>\n'
        f"    {action}\n"
        '    <div class="product-description">'
        f"{linebreaks(product.description, autoescape=True)}</div>\n"
        "  </div>\n"
        "</article>"
    )


def checkout_summary(product, quote, *, balance: int, credit_value) -> SafeString:
    """The product, its price and the buyer's balance, beside the form."""
    return mark_safe(  # noqa: S308 - every value escaped
        '<section class="card checkout-summary" aria-labelledby="product-heading">\n'
        f"    {product_cover(product, css_class='checkout-cover', loading='eager')}\n"
        f'    <h2 id="product-heading">{esc(product.title)}</h2>\n'
        f'    <p class="muted">by {esc(product.author)} · '
        f"{esc(product.get_category_display())}</p>\n"
        f"    <p>Price: <strong>${esc(quote.price)}</strong></p>\n"
        f'    <p>Your balance: <strong id="balance">{esc(credits_phrase(balance))}</strong>\n'
        f"      (each worth ${esc(credit_value)})</p>\n"
        '    <p class="muted" id="credits-rule">Credits count in whole credits of '
        f"${esc(credit_value)},\n"
        "      never more than the price or your balance; your card pays the rest "
        f"(at least ${esc(settings.MINIMUM_CHARGE)}, or nothing).</p>\n"
        "  </section>"
    )


def checkout_fields(
    form,
    quote,
    *,
    token: str,
    balance: int,
    path: str,
    payment_error: str = "",
) -> SafeString:
    """The hidden inputs, the form's errors, the credits choice and the card section.

    ``form`` is the submitted CheckoutForm, or None on a first view (then
    ``token`` is the checkout intent to submit).
    """
    if form is None:
        hidden = (
            f'<input type="hidden" name="token" value="{esc(token)}" id="id_token">\n'
            f'    <input type="hidden" name="payment_method_id" id="{esc(_PAYMENT_ID)}">'
        )
        errors = credit_errors = card_errors = ""
        credits_id, label = "id_credits", _CREDITS.label
    else:
        credits = form["credits"]
        hidden = f"{form['token']}\n    {form['payment_method_id']}"
        errors = _errors(form.non_field_errors(), "alert") + _errors(form["token"].errors, "alert")
        credit_errors = _errors(credits.errors)
        card_errors = "".join(f"<p>{esc(e)}</p>" for e in form["payment_method_id"].errors)
        credits_id, label = credits.id_for_label, credits.label
    if quote.max_credits:
        choice = (
            '<div class="field">\n'
            f'      <label for="{esc(credits_id)}">{esc(label)}</label>\n'
            f'      <select name="credits" id="{esc(credits_id)}"\n'
            f'              hx-get="{esc(path)}" hx-target="#breakdown" hx-trigger="change"\n'
            '              hx-swap="outerHTML" hx-indicator="#breakdown" '
            'hx-disabled-elt="#pay-button"\n'
            '              aria-describedby="credits-help">\n'
            f"        {credit_options(quote.choices, quote.credits_used)}\n"
            "      </select>\n"
            f'      <span class="helptext" id="credits-help">Up to '
            f"{esc(credits_phrase(quote.max_credits))} on this product.</span>\n"
            f"      {credit_errors}\n"
            "    </div>"
        )
    else:
        help_text = (
            "This product is too cheap to pay with credits."
            if balance
            else "No credits to use yet: invite friends from your dashboard to earn some."
        )
        choice = (
            '<input type="hidden" name="credits" value="0">\n'
            f'    <p class="muted" id="credits-help">{help_text}</p>'
        )
    if payment_error:
        card_errors = (
            f'<p id="payment-error">{esc(payment_error)} Your credits were not used; '
            "you can try again.</p>" + card_errors
        )
    return mark_safe(  # noqa: S308 - every value escaped
        f"{hidden}\n    {errors}\n    {choice}\n\n"
        '    <fieldset class="card-section" id="card-section"'
        f"{' hidden' if quote.cash_amount == 0 else ''}>\n"
        "      <legend>Card</legend>\n"
        '      <div id="card-element" class="card-element" aria-describedby="card-errors">'
        "</div>\n"
        '      <noscript><p class="form-alert">Paying by card needs JavaScript. A purchase paid '
        "fully with credits works without it.</p></noscript>\n"
        f'      <div id="card-errors" class="errorlist" role="alert">{card_errors}</div>\n'
        '      <p class="muted">Card details go straight to our payment provider, Stripe; '
        "they never reach our server.</p>\n"
        "    </fieldset>"
    )


def checkout_breakdown(quote) -> SafeString:
    """The order summary and the pay button: the page's part that follows the credits chosen."""
    if quote.cash_amount:
        pay = f"Pay ${esc(quote.cash_amount)}"
        paid = ""
    else:
        pay = f"Get it with {esc(credits_phrase(quote.credits_used))}"
        paid = '<p class="muted">Fully paid with credits: no card needed.</p>'
    return mark_safe(  # noqa: S308 - every value escaped
        '<div id="breakdown" class="breakdown" aria-live="polite" '
        f'data-cash-cents="{esc(quote.cash_cents)}">\n'
        "      <h2>Order summary</h2>\n"
        "      <table>\n"
        f'        <tr><th scope="row">Price</th><td>${esc(quote.price)}</td></tr>\n'
        '        <tr><th scope="row">Credits used</th>'
        f'<td id="credits-used">{esc(quote.credits_used)}</td></tr>\n'
        '        <tr><th scope="row">Paid with credits</th>'
        f'<td id="credit-amount">\u2212${esc(quote.credit_amount)}</td></tr>\n'
        '        <tr><th scope="row">To pay by card</th>'
        f'<td id="cash-amount"><strong>${esc(quote.cash_amount)}</strong></td></tr>\n'
        "      </table>\n"
        f"      {paid}\n"
        '      <p class="updating" aria-hidden="true">Updating\u2026</p>\n'
        '      <p class="actions">\n'
        '        <button type="submit" name="action" value="pay" class="button button-pay" '
        f'id="pay-button">{pay}</button>\n'
        "      </p>\n"
        "    </div>"
    )


def credit_options(choices, selected: int) -> SafeString:
    """The credits select's <option>s, ``selected`` marked."""
    return mark_safe(  # noqa: S308 - each value an int, each label escaped
        "".join(
            f'<option value="{int(n)}"{" selected" if n == selected else ""}>'
            f"{esc(credits_label(n))}</option>"
            for n in choices
        )
    )


def _errors(errors, role: str = "") -> str:
    """A list of the errors, or nothing when there are none."""
    if not errors:
        return ""
    opening = f'<ul class="errorlist" role="{role}">' if role else '<ul class="errorlist">'
    return opening + "".join(f"<li>{esc(e)}</li>" for e in errors) + "</ul>"
