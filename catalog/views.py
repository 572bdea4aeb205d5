from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from catalog.forms import ProductFilterForm
from catalog.selectors import product_get, product_list_featured, product_page
from referral_site.caching import shared_for_visitors
from referral_site.paging import MAX_PAGE


@require_GET
@shared_for_visitors
def home(request):
    return render(request, "home.html", {"products": product_list_featured()})


@require_GET
def product_cover(request, product_id):
    """A product's stored cover image, from GridFS; cached by browsers for a day."""
    product = product_get(product_id=product_id)
    if product is None or not product.cover:
        raise Http404("No cover")
    try:
        cover = product.cover.storage.open(product.cover.name)
    except FileNotFoundError:
        raise Http404("No cover") from None
    etag = f'"{product.cover.name.split("/")[0]}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    response = FileResponse(cover, content_type=cover.content_type or "image/png")
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=86400)
    return response


@require_GET
@shared_for_visitors
def product_list(request):
    form = ProductFilterForm(request.GET)
    form.is_valid()  # invalid values fall back to their defaults, with a notice: never a 400
    filters = form.filters()
    for notice in form.notices():
        messages.warning(request, notice)
    requested = _requested_page(request, request.GET.get("page"))
    page = product_page(**filters, page=requested)
    if page.number < requested:
        messages.warning(
            request, f"There is no page {requested}; showing the last page, {page.number}."
        )
    links = _ListLinks(query=_filters_query(filters))
    # htmx swaps in the results only; a history restore (back button with an
    # evicted htmx cache) needs the whole page.
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "catalog/product_list.html#results" if partial else "catalog/product_list.html"
    response = render(
        request,
        template,
        {
            # Shows what is applied, not what was typed: ignored values are gone.
            "form": form.showing_applied(),
            "page": page,
            "products": page.object_list,
            "filtered": bool(links.query),
            "list_url": links.list_url,
            "previous_url": links.page(page.previous_page_number) if page.has_previous else None,
            "next_url": links.page(page.next_page_number) if page.has_next else None,
        },
    )
    if partial:
        push_url(response, links.page(page.number))  # the address bar shows what is applied
    patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
    return response


class _ListLinks:
    """Links to pages of the list with the applied filters (defaults left out)."""

    def __init__(self, *, query: str):
        self.query = query
        self.list_url = reverse("catalog:product_list")

    def page(self, number: int) -> str:
        parts = [self.query] if self.query else []
        if number > 1:
            parts.append(urlencode({"page": number}))
        return f"{self.list_url}?{'&'.join(parts)}" if parts else self.list_url


def _requested_page(request, number) -> int:
    """The page number asked for; not a number or below 1: the first, with a message.

    Beyond the last page is the selector's to answer (with the last page).
    """
    if number in (None, ""):
        return 1
    try:
        value = int(number)
    except ValueError:
        messages.warning(request, "Ignored the page number: it must be a whole number.")
        return 1
    if value < 1:
        messages.warning(request, "There is no such page; showing the first one.")
        return 1
    return min(value, MAX_PAGE)


def _filters_query(filters: dict) -> str:
    """The applied filters as a query string, defaults left out."""
    defaults = ProductFilterForm.DEFAULTS
    return urlencode(
        [(name, str(value)) for name, value in filters.items() if value != defaults[name]]
    )
