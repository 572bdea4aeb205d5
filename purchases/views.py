"""The product page (with what the visitor already owns), checkout, history, receipts."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from catalog.models import Product
from catalog.selectors import product_get
from purchases.forms import CheckoutForm
from purchases.gateways import get_gateway
from purchases.models import Purchase, PurchaseStatus
from purchases.selectors import (
    purchase_for_product,
    purchase_get_for_user,
    purchase_list_for_user,
)
from purchases.services import (
    PaymentDeclined,
    PurchaseInProgress,
    Quote,
    checkout_preview,
    purchase_checkout,
)
from referral_site.exceptions import ApplicationError
from referral_site.intents import is_intent_token, new_intent_token

PURCHASES_PER_PAGE = 20


@require_GET
def product_detail(request, product_id):
    product = product_get(product_id=product_id)
    if product is None:
        raise Http404("No such product.")
    purchase = purchase_for_product(user=request.user, product=product)
    checkout_url = reverse("purchases:checkout", args=[product.pk])
    login_url = resolve_url(settings.LOGIN_URL)
    context = {
        "product": product,
        "purchase": purchase,
        "receipt_url": reverse("purchases:detail", args=[purchase["pk"]]) if purchase else None,
        "checkout_url": checkout_url,
        "login_to_buy_url": f"{login_url}?{urlencode({'next': checkout_url})}",
    }
    return render(request, "purchases/product_detail.html", context)


TOKEN_COOKIE = "checkout_intent"  # noqa: S105 - a cookie name, not a secret
TOKEN_MAX_AGE = 24 * 60 * 60


def _checkout_token(request) -> tuple[str, bool]:
    """The checkout intent for this product page: (token, is_new).

    Kept in a signed cookie scoped to /checkout/<product id>/, so two tabs of
    the same checkout share it and make one purchase, and the session is not
    written on every checkout. After a purchase ends (completed or declined)
    the cookie is replaced, so the next checkout is a new intent.
    """
    token = request.get_signed_cookie(
        TOKEN_COOKIE, default=None, salt=TOKEN_COOKIE, max_age=TOKEN_MAX_AGE
    )
    if is_intent_token(token):
        return token, False
    return new_intent_token(), True


def _remember_token(response, request, token: str) -> None:
    response.set_signed_cookie(
        TOKEN_COOKIE,
        token,
        salt=TOKEN_COOKIE,
        max_age=TOKEN_MAX_AGE,
        path=request.path,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def _forget_token(response, request) -> None:
    response.delete_cookie(TOKEN_COOKIE, path=request.path, samesite="Lax")


def _checkout_form(request, quote: Quote, gateway, data=None, **kwargs) -> CheckoutForm:
    return CheckoutForm(
        data,
        max_credits=quote.max_credits,
        accepts_card_numbers=gateway.accepts_card_numbers,
        **kwargs,
    )


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request, product_id):
    product = _product_or_404(product_id)
    gateway = get_gateway()
    params = request.POST if request.method == "POST" else request.GET
    quote = checkout_preview(
        price=product.price, balance=request.user.credits, requested=params.get("credits")
    )
    if request.method == "GET":
        token, is_new = _checkout_token(request)
        form = _checkout_form(
            request, quote, gateway, initial={"token": token, "credits": quote.credits_used}
        )
        return _render_checkout(request, product, form, quote, new_token=is_new and token)
    form = _checkout_form(request, quote, gateway, request.POST)
    if not form.is_valid() or request.POST.get("action") == "preview":
        return _render_checkout(request, product, form, quote)
    try:
        purchase = purchase_checkout(
            user=request.user,
            product=product,
            gateway=gateway,
            token=form.cleaned_data["token"],
            **form.payment(),
        )
    except PurchaseInProgress as exc:
        messages.info(request, "Your purchase is being processed.")
        return redirect("purchases:detail", purchase_id=exc.purchase.pk)
    except ApplicationError as exc:
        return _checkout_refused(request, product, quote, gateway, exc)
    return _checkout_done(request, purchase)


def _product_or_404(product_id) -> Product:
    product = product_get(product_id=product_id)
    if product is None:
        raise Http404("No such product")
    return product


def _checkout_refused(request, product, quote, gateway, exc: ApplicationError):
    """The form again, as a new checkout intent: the refused one may have been recorded.

    A declined card (402) starts over with an empty card form, its credits
    returned; any other refusal (say another tab spent the credits first)
    keeps what was typed and shows the error on its field.
    """
    token = new_intent_token()
    if isinstance(exc, PaymentDeclined):
        form = _checkout_form(
            request, quote, gateway, initial={"token": token, "credits": quote.credits_used}
        )
        return _render_checkout(
            request, product, form, quote, error=exc.message, status=402, new_token=token
        )
    form = _checkout_form(request, quote, gateway, {**request.POST.dict(), "token": token})
    form.is_valid()
    exc.add_to_form(form)
    return _render_checkout(request, product, form, quote, new_token=token)


def _checkout_done(request, purchase: Purchase):
    if purchase.status == PurchaseStatus.COMPLETED:
        messages.success(request, f"Thank you! {purchase.product_name} is yours.")
    elif purchase.status == PurchaseStatus.FAILED:
        messages.error(request, f"This purchase did not go through: {purchase.failure_reason}.")
    response = redirect("purchases:detail", purchase_id=purchase.pk)
    _forget_token(response, request)
    return response


def _render_checkout(
    request,
    product,
    form,
    quote,
    *,
    error: str = "",
    status: int = 200,
    new_token: str | bool = False,
):
    context = {
        "product": product,
        "form": form,
        "quote": quote,
        "payment_error": error,
        "balance": request.user.credits,
        "credit_value": settings.CREDIT_VALUE,
    }
    template = "purchases/checkout.html"
    if request.htmx and request.htmx.target == "breakdown":
        template += "#breakdown"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    if new_token:
        _remember_token(response, request, new_token)
    return response


@login_required
@require_GET
def purchase_list(request):
    page = Paginator(purchase_list_for_user(user=request.user), PURCHASES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "purchases/purchase_list.html", {"page": page})


@login_required
@require_GET
def purchase_detail(request, purchase_id):
    purchase = purchase_get_for_user(user=request.user, purchase_id=purchase_id)
    return render(request, "purchases/purchase_detail.html", {"purchase": purchase})
