from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import Http404
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from catalog.forms import ProductFilterForm
from catalog.selectors import PAGE_SIZE, product_get, product_search, purchase_for_product


@require_GET
def product_list(request):
    form = ProductFilterForm(request.GET)
    form.is_valid()  # invalid values fall back to their defaults, with a notice: never a 400
    filters = form.filters()
    for notice in form.notices():
        messages.warning(request, notice)

    paginator = Paginator(product_search(**filters), PAGE_SIZE)
    page = _page_or_nearest(request, paginator, request.GET.get("page"))

    query = _filters_query(filters)
    list_url = reverse("catalog:product_list")
    context = {
        # Shows what is applied, not what was typed: ignored values are gone.
        "form": ProductFilterForm(initial=filters),
        "page": page,
        "products": page.object_list,
        "filtered": bool(query),
        "list_url": list_url,
        "previous_url": _page_url(list_url, query, page.previous_page_number())
        if page.has_previous() else None,
        "next_url": _page_url(list_url, query, page.next_page_number())
        if page.has_next() else None,
    }
    # htmx swaps in the results only; a history restore (back button with an
    # evicted htmx cache) needs the whole page.
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "catalog/product_list.html#results" if partial else "catalog/product_list.html"
    response = render(request, template, context)
    if partial:
        # The address bar shows the applied filters, page included.
        push_url(response, _page_url(list_url, query, page.number))
    patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
    return response


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
    return render(request, "catalog/product_detail.html", context)


def _page_or_nearest(request, paginator, number):
    """The requested page; out of range or not a number: the nearest one, with a message."""
    if number in (None, ""):
        return paginator.page(1)
    try:
        return paginator.page(number)
    except PageNotAnInteger:
        messages.warning(request, "Ignored the page number: it must be a whole number.")
        return paginator.page(1)
    except EmptyPage:
        if int(number) < 1:
            messages.warning(request, "There is no such page; showing the first one.")
            return paginator.page(1)
        last = paginator.num_pages
        messages.warning(request, f"There is no page {int(number)}; showing the last page, {last}.")
        return paginator.page(last)


def _filters_query(filters: dict) -> str:
    """The applied filters as a query string, defaults left out."""
    defaults = ProductFilterForm.DEFAULTS
    return urlencode(
        [(name, str(value)) for name, value in filters.items() if value != defaults[name]]
    )


def _page_url(list_url: str, query: str, number: int) -> str:
    parts = [query] if query else []
    if number > 1:
        parts.append(urlencode({"page": number}))
    return f"{list_url}?{'&'.join(parts)}" if parts else list_url
