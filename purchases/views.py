"""The product page (with what the visitor already owns), checkout, history, receipts."""

from functools import lru_cache, wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import content_disposition_header
from django.views.decorators.csp import csp_override
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.selectors import product_get
from purchases.delivery import (
    DownloadsLimited,
    DownloadUnavailable,
    RangeNotSatisfiable,
    download_available,
    download_open,
)
from purchases.forms import CheckoutForm
from purchases.gateways import PaymentError, ensure_payment_provider
from purchases.models import Purchase, PurchaseStatus
from purchases.selectors import (
    product_for_buyer,
    products_popular,
    purchase_get_for_user,
    purchase_library_for_user,
    purchase_list_for_user,
)
from purchases.services import (
    PaymentActionRequired,
    PaymentDeclined,
    PaymentUnavailable,
    PurchaseInProgress,
    Quote,
    checkout_preview,
    purchase_awaiting_payment,
    purchase_check_payment,
    purchase_checkout,
)
from referral_site.caching import shared_for_visitors
from referral_site.exceptions import ApplicationError
from referral_site.intents import is_intent_token, new_intent_token
from referrals.selectors import referral_invitation

PURCHASES_PER_PAGE = 20


@require_GET
@shared_for_visitors
def product_detail(request, product_id):
    product, purchase = product_for_buyer(product_id=product_id, user=request.user)
    if product is None:
        raise Http404("No such product.")
    checkout_url = reverse("purchases:checkout", args=[product.pk])
    login_url = resolve_url(settings.LOGIN_URL)
    context = {
        "product": product,
        "purchase": purchase,
        "receipt_url": reverse("purchases:detail", args=[purchase["pk"]]) if purchase else None,
        # product_for_buyer finds completed purchases only.
        "download_url": reverse("purchases:download", args=[purchase["pk"]])
        if purchase
        and download_available(purchase_status=PurchaseStatus.COMPLETED, product=product)
        else None,
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


def stripe_csp(view):
    """The site's Content-Security-Policy plus exactly what Stripe.js needs, for this view only.

    Its script and frames from STRIPE_JS_URL's origin (and STRIPE_FRAME_HOSTS),
    its API calls to STRIPE_API_BASE's origin: the emulator's in development.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return csp_override(_stripe_policy())(view)(request, *args, **kwargs)

    return wrapped


@lru_cache(maxsize=1)
def _stripe_policy() -> dict:
    """The policy, built once per settings (rebuilt when a test changes them)."""
    policy = {key: list(value) for key, value in settings.SECURE_CSP.items()}
    js, api = _origin(settings.STRIPE_JS_URL), _origin(settings.STRIPE_API_BASE)
    policy["script-src"].append(js)
    policy["connect-src"].append(api)
    policy["frame-src"] = ["'self'", js, *settings.STRIPE_FRAME_HOSTS]
    return policy


@receiver(setting_changed)
def _forget_stripe_policy(*, setting, **kwargs):
    if setting in {"SECURE_CSP", "STRIPE_JS_URL", "STRIPE_API_BASE", "STRIPE_FRAME_HOSTS"}:
        _stripe_policy.cache_clear()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _checkout_form(quote: Quote, data=None, **kwargs) -> CheckoutForm:
    return CheckoutForm(data, credit_choices=quote.choices, **kwargs)


@login_required
@sensitive_post_parameters("payment_method_id")
@require_http_methods(["GET", "POST"])
@stripe_csp
def checkout(request, product_id):
    product, owned = product_for_buyer(product_id=product_id, user=request.user)
    if product is None:
        raise Http404("No such product")
    if owned:
        # Nobody pays twice: Buy after signing in, or Back after paying, lands here.
        messages.info(request, f"You already own {product.title}: here is your receipt.")
        return redirect("purchases:detail", purchase_id=owned["pk"])
    params = request.POST if request.method == "POST" else request.GET
    quote = checkout_preview(
        price=product.price, balance=request.user.credits, requested=params.get("credits")
    )
    if request.method == "GET":
        # Nothing submitted: the page needs no form (purchases.html writes its inputs).
        token, is_new = _checkout_token(request)
        return _render_checkout(request, product, None, quote, token=token, new_token=is_new)
    form = _checkout_form(quote, request.POST)
    if not form.is_valid() or request.POST.get("action") == "preview":
        return _render_checkout(request, product, form, quote)
    try:
        purchase = purchase_checkout(
            user=request.user, product=product, token=form.cleaned_data["token"], **form.payment()
        )
    except (PurchaseInProgress, PaymentActionRequired) as exc:
        return _payment_pending(request, exc)
    except ApplicationError as exc:
        return _checkout_refused(request, product, quote, exc)
    return _checkout_done(request, purchase)


def _payment_pending(request, exc: PurchaseInProgress | PaymentActionRequired):
    if isinstance(exc, PaymentActionRequired):
        return _authenticate_page(request, exc.purchase, exc.client_secret)
    messages.info(request, "Your purchase is being processed.")
    return redirect("purchases:detail", purchase_id=exc.purchase.pk)


def _authenticate_page(request, purchase: Purchase, client_secret: str):
    """Stripe.js runs the bank's 3-D Secure challenge here, then reports back (POST)."""
    ensure_payment_provider()
    context = {
        "purchase": purchase,
        "client_secret": client_secret,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }
    response = render(request, "purchases/authenticate.html", context)
    patch_cache_control(response, private=True, no_store=True)
    return response


def _checkout_refused(request, product, quote, exc: ApplicationError):
    """The form again, as a new checkout intent: the refused one may have been recorded.

    A declined card (402) or an unavailable provider keeps the credits
    selection and shows the reason beside the card; any other refusal (say
    another tab spent the credits first) shows the error on its field.
    """
    token = new_intent_token()
    form = _checkout_form(quote, {**request.POST.dict(), "token": token, "payment_method_id": ""})
    form.is_valid()
    if isinstance(exc, PaymentDeclined | PaymentUnavailable):
        return _render_checkout(
            request,
            product,
            form,
            quote,
            token=token,
            error=exc.message,
            status=402,
            new_token=True,
        )
    exc.add_to_form(form)
    return _render_checkout(request, product, form, quote, token=token, new_token=True)


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
    form: CheckoutForm | None,
    quote,
    *,
    token: str = "",
    error: str = "",
    status: int = 200,
    new_token: bool = False,
):
    """The checkout page: ``form`` is the submitted form, or None on a first view.

    ``token`` is the checkout intent the page submits (with no form) or that
    replaced a refused one; ``new_token`` sets its cookie.
    """
    ensure_payment_provider()  # its Stripe.js is on the page
    context = {
        "product": product,
        "form": form,
        "token": token,
        "quote": quote,
        "payment_error": error,
        "balance": request.user.credits,
        "credit_value": settings.CREDIT_VALUE,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }
    template = "purchases/checkout.html"
    if request.htmx and request.htmx.target == "breakdown":
        template += "#breakdown"
    elif request.user.referred_by_id is not None:
        context["invitation"] = referral_invitation(referred_user_id=request.user.pk)
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    # Back after paying must ask again (and land on the receipt), never show this copy.
    patch_cache_control(response, private=True, no_store=True)
    if new_token:
        _remember_token(response, request, token)
    return response


@login_required
@require_POST
@stripe_csp
def purchase_payment_check(request, purchase_id):
    """The browser is back from 3-D Secure: ask Stripe what happened (never the browser)."""
    purchase = purchase_get_for_user(user=request.user, purchase_id=purchase_id)
    try:
        waiting = purchase_check_payment(purchase=purchase)
    except PaymentError as exc:
        messages.error(request, str(exc))
        return redirect("purchases:detail", purchase_id=purchase.pk)
    if waiting is not None:
        return _authenticate_page(request, purchase, waiting.client_secret)
    if purchase.status == PurchaseStatus.FAILED:
        messages.error(
            request,
            f"Your payment was not confirmed: {purchase.failure_reason}. Nothing was charged "
            f"and your credits are back; you can try again.",
        )
        checkout_url = reverse("purchases:checkout", args=[purchase.product_id])
        return redirect(f"{checkout_url}?{urlencode({'credits': purchase.credits_used})}")
    return _checkout_done(request, purchase)


@login_required
@require_GET
def purchase_list(request):
    page = Paginator(purchase_list_for_user(user=request.user), PURCHASES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    response = render(request, "purchases/purchase_list.html", {"page": page})
    patch_cache_control(response, private=True, no_store=True)  # what someone bought
    return response


@login_required
@require_GET
def purchase_detail(request, purchase_id):
    purchase = purchase_get_for_user(user=request.user, purchase_id=purchase_id)
    product = product_get(product_id=str(purchase.product_id))
    context = {
        "purchase": purchase,
        "product": product,
        "awaiting_payment": purchase_awaiting_payment(purchase),
        "downloadable": download_available(purchase_status=purchase.status, product=product),
    }
    if purchase.is_first_purchase and request.user.referred_by_id is not None:
        context["invitation"] = referral_invitation(referred_user_id=request.user.pk)
    response = render(request, "purchases/purchase_detail.html", context)
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_GET
def library(request):
    response = render(
        request, "purchases/library.html", {"items": purchase_library_for_user(user=request.user)}
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_GET
def purchase_download(request, purchase_id):
    """The purchased file, streamed; resumable with a Range header.

    Someone else's purchase, an unknown one, or a visitor who is not signed
    in: 404, saying nothing about whether it exists.
    """
    if not request.user.is_authenticated:
        raise Http404("No such purchase")
    purchase = purchase_get_for_user(user=request.user, purchase_id=purchase_id)
    try:
        delivery = download_open(
            user=request.user, purchase=purchase, range_header=request.headers.get("Range")
        )
    except RangeNotSatisfiable as exc:
        return HttpResponse(status=416, headers={"Content-Range": f"bytes */{exc.size}"})
    except DownloadsLimited as exc:
        return HttpResponse(
            exc.message, status=429, headers={"Retry-After": str(exc.exceeded.retry_after_seconds)}
        )
    except DownloadUnavailable as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        delivery.chunks(),
        status=206 if delivery.partial else 200,
        content_type=delivery.content_type,
    )
    response["Content-Length"] = str(delivery.length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(True, delivery.name)
    if delivery.partial:
        response["Content-Range"] = f"bytes {delivery.start}-{delivery.end}/{delivery.size}"
    patch_cache_control(response, private=True, no_store=True)
    return response


def not_found(request, exception=None):
    """handler404: a way on from here (search, popular products), with a 404 status."""
    return render(request, "404.html", {"popular": products_popular()}, status=404)
