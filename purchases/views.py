"""Checkout, purchase history and receipts."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from catalog.models import Product
from purchases.forms import TOKEN_RE, CheckoutForm, new_checkout_token
from purchases.gateways import CardError, get_gateway
from purchases.selectors import (
    object_id_or_404,
    purchase_get_for_user,
    purchase_list_for_user,
)
from purchases.services import (
    PaymentDeclined,
    PurchaseInProgress,
    checkout_quote,
    max_credits_for,
    purchase_checkout,
)
from referral_site.exceptions import ApplicationError

PURCHASES_PER_PAGE = 20


TOKEN_COOKIE = "checkout_intent"  # noqa: S105 - a cookie name, not a secret
TOKEN_MAX_AGE = 24 * 60 * 60


def _checkout_token(request) -> tuple[str, bool]:
    """The checkout intent for this product page: (token, is_new).

    Kept in a signed cookie scoped to /checkout/<product id>/, so two tabs of
    the same checkout share it and make one purchase, and the session is not
    written on every checkout. After a purchase ends (completed or declined)
    the cookie is replaced, so the next checkout is a new intent.
    """
    token = request.get_signed_cookie(TOKEN_COOKIE, default=None, salt=TOKEN_COOKIE,
                                      max_age=TOKEN_MAX_AGE)
    if token and TOKEN_RE.match(token):
        return token, False
    return new_checkout_token(), True


def _remember_token(response, request, token: str) -> None:
    response.set_signed_cookie(TOKEN_COOKIE, token, salt=TOKEN_COOKIE, max_age=TOKEN_MAX_AGE,
                               path=request.path, httponly=True, samesite="Lax",
                               secure=request.is_secure())


def _forget_token(response, request) -> None:
    response.delete_cookie(TOKEN_COOKIE, path=request.path, samesite="Lax")


def _requested_credits(raw, limit: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 0
    return min(max(value, 0), limit)


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request, product_id):
    product = Product.objects.filter(pk=object_id_or_404(product_id)).first()
    if product is None:
        raise Http404("No such product")
    user = request.user
    gateway = get_gateway()
    limit = max_credits_for(price=product.price, balance=user.credits)
    form_kwargs = {"max_credits": limit, "accepts_card_numbers": gateway.accepts_card_numbers}

    if request.method == "GET":
        credits = _requested_credits(request.GET.get("credits"), limit)
        token, is_new = _checkout_token(request)
        form = CheckoutForm(initial={"token": token, "credits": credits}, **form_kwargs)
        quote = checkout_quote(price=product.price, balance=user.credits, credits_used=credits)
        response = _render_checkout(request, product, form, quote)
        if is_new:
            _remember_token(response, request, token)
        return response

    form = CheckoutForm(request.POST, **form_kwargs)
    valid = form.is_valid()
    credits = form.cleaned_data.get("credits", 0) if valid else _requested_credits(
        request.POST.get("credits"), limit)
    quote = checkout_quote(price=product.price, balance=user.credits, credits_used=credits)
    if not valid or request.POST.get("action") == "preview":
        return _render_checkout(request, product, form, quote)
    payment_method_id = ""
    if quote.cash_amount > 0:
        if not form.require_card():
            return _render_checkout(request, product, form, quote)
        if gateway.accepts_card_numbers:
            month, year = form.cleaned_data["card_expiry"]
            try:
                payment_method_id = gateway.create_payment_method(
                    card_number=form.cleaned_data["card_number"], exp_month=month,
                    exp_year=year, cvc=form.cleaned_data["card_cvc"])
            except CardError as exc:
                form.add_error("card_number", str(exc))
                return _render_checkout(request, product, form, quote)
        else:
            payment_method_id = form.cleaned_data["payment_method_id"]
    try:
        purchase = purchase_checkout(
            user=user, product=product, credits_used=credits, token=form.cleaned_data["token"],
            payment_method_id=payment_method_id, gateway=gateway,
        )
    except PurchaseInProgress as exc:
        messages.info(request, "Your purchase is being processed.")
        return redirect("purchases:detail", purchase_id=exc.purchase.pk)
    except PaymentDeclined as exc:
        # That intent is over; a retry is a new one. The credits came back.
        token = new_checkout_token()
        form = CheckoutForm(initial={"token": token, "credits": credits}, **form_kwargs)
        response = _render_checkout(request, product, form, quote, error=exc.message,
                                    status=402)
        _remember_token(response, request, token)
        return response
    except ApplicationError as exc:
        # The service may have recorded (and failed) a purchase for this
        # token, e.g. when another tab spent the credits first: the corrected
        # form is a new checkout intent.
        token = new_checkout_token()
        data = request.POST.copy()
        data["token"] = token
        form = CheckoutForm(data, **form_kwargs)
        form.is_valid()
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        response = _render_checkout(request, product, form, quote)
        _remember_token(response, request, token)
        return response
    if purchase.status == "completed":
        messages.success(request, f"Thank you! {purchase.product_name} is yours.")
    elif purchase.status == "failed":
        messages.error(request, f"This purchase did not go through: {purchase.failure_reason}.")
    response = redirect("purchases:detail", purchase_id=purchase.pk)
    _forget_token(response, request)
    return response


def _render_checkout(request, product, form, quote, *, error: str = "", status: int = 200):
    context = {"product": product, "form": form, "quote": quote, "payment_error": error,
               "balance": request.user.credits, "credit_value": settings.CREDIT_VALUE}
    template = "purchases/checkout.html"
    if request.htmx and request.htmx.target == "breakdown":
        template += "#breakdown"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


@login_required
@require_GET
def purchase_list(request):
    page = Paginator(purchase_list_for_user(user=request.user), PURCHASES_PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "purchases/purchase_list.html", {"page": page})


@login_required
@require_GET
def purchase_detail(request, purchase_id):
    purchase = purchase_get_for_user(user=request.user, purchase_id=purchase_id)
    return render(request, "purchases/purchase_detail.html", {"purchase": purchase})
