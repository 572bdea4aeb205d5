"""The product page's article and the checkout's summary, form fields and order
summary (purchases.html) as template tags."""

from django import template

from purchases import html

register = template.Library()


@register.simple_tag(takes_context=True)
def product_detail(context):
    user = context["user"]
    signed_in = user.is_authenticated
    return html.product_detail(
        context["product"],
        purchase=context["purchase"],
        receipt_url=context["receipt_url"],
        download_url=context["download_url"],
        buy_url=context["checkout_url"] if signed_in else context["login_to_buy_url"],
        signed_in=signed_in,
    )


@register.simple_tag
def checkout_summary(product, quote, balance, credit_value):
    return html.checkout_summary(product, quote, balance=balance, credit_value=credit_value)


@register.simple_tag(takes_context=True)
def checkout_fields(context, form, quote):
    return html.checkout_fields(
        form,
        quote,
        token=context.get("token", ""),
        balance=context["balance"],
        path=context["request"].path,
        payment_error=context.get("payment_error", ""),
    )


@register.simple_tag
def checkout_breakdown(quote):
    return html.checkout_breakdown(quote)
