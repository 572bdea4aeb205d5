"""Purchases for staff: read-only, with a refund action that goes through the service.

Also the product analytics page, added to the catalog's product admin: sales
are purchase data, so the page lives here and extends catalog's ProductAdmin
(re-registered) instead of catalog reaching up into purchases.
"""

import csv

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from catalog.admin import ProductAdmin as CatalogProductAdmin
from catalog.models import Product
from purchases.models import ArchivedPurchase, PaymentEvent, Purchase
from purchases.selectors import ANALYTICS_COLUMNS, product_sales_report
from purchases.services import purchase_refund
from referral_site.admin_mixins import ReadOnlyAdminMixin
from referral_site.batching import filter_in
from referral_site.exceptions import ApplicationError
from referral_site.ops.csv_export import format_value


class PurchaseChangeList(ChangeList):
    """The purchases list, with each row's buyer (name, e-mail) as ``purchase.buyer``.

    No join and no query per row: after the page's purchases are read, their
    buyers are read in one query by _id (batched, gap 6).
    """

    def get_results(self, request):
        super().get_results(request)
        purchases = list(self.result_list)  # the page's rows, kept by the queryset's cache
        buyer_ids = {purchase.user_id for purchase in purchases}
        buyers = {
            user.pk: user for user in filter_in(User.objects.only("name", "email"), "pk", buyer_ids)
        }
        for purchase in purchases:
            purchase.buyer = buyers.get(purchase.user_id)


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Status right next to the product; the buyer by name and e-mail.
    list_display = (
        "product_name",
        "status",
        "buyer_name",
        "buyer_email",
        "amount",
        "credits_used",
        "cash_amount",
        "is_first_purchase",
        "referral_credit_awarded",
        "disputed_at",
        "created_at",
    )
    list_filter = (
        "status",
        "is_first_purchase",
        "referral_credit_awarded",
        ("disputed_at", admin.EmptyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("product_name", "payment_method_id", "payment_intent_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ["refund_selected"]
    readonly_fields = [f.name for f in Purchase._meta.fields]

    def get_changelist(self, request, **kwargs):
        return PurchaseChangeList

    @admin.display(description="Buyer")
    def buyer_name(self, purchase):
        buyer = getattr(purchase, "buyer", None)
        url = reverse("admin:accounts_user_change", args=[purchase.user_id])
        return format_html('<a href="{}">{}</a>', url, buyer.name if buyer else purchase.user_id)

    @admin.display(description="Buyer's e-mail")
    def buyer_email(self, purchase):
        buyer = getattr(purchase, "buyer", None)
        return (buyer.email if buyer else None) or self.get_empty_value_display()

    def has_refund_permission(self, request):
        # Refunding moves money: the right to change purchases, not just to see them.
        return request.user.has_perm("purchases.change_purchase")

    @admin.action(
        description="Refund selected purchases (card part through Stripe, credits returned)",
        permissions=["refund"],
    )
    def refund_selected(self, request, queryset):
        refunded, skipped, failed = 0, 0, []
        for purchase in queryset:
            try:
                done = purchase_refund(purchase=purchase, actor=request.user)
            except ApplicationError as exc:  # the card refund failed: nothing recorded
                failed.append(f"{purchase.product_name} ({purchase.pk}): {exc.message}")
                continue
            if done:
                refunded += 1
                self.log_change(
                    request,
                    purchase,
                    f"Refunded ${purchase.cash_amount} to the card; "
                    f"{purchase.credits_used} credit(s) returned",
                )
            else:
                skipped += 1
        if refunded:
            self.message_user(
                request,
                f"Refunded {refunded} purchase(s): the card part through Stripe, the credits "
                f"back in the ledger.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} purchase(s) that were not completed.", messages.WARNING
            )
        for line in failed:
            self.message_user(request, f"Not refunded, try again: {line}", messages.ERROR)


@admin.register(ArchivedPurchase)
class ArchivedPurchaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Purchases moved by archive_purchases: to look up, never to change (no refunds)."""

    list_display = ("product_name", "status", "user_id", "amount", "cash_amount", "created_at")
    list_filter = ("status",)
    search_fields = ("product_name", "payment_intent_id")
    ordering = ("-created_at",)


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "type", "purchase_id", "created_at")
    list_filter = ("type",)


ANALYTICS_HEADINGS = {
    "product_name": "Product",
    "total_sales": "Total sales ($)",
    "total_purchases": "Purchases",
    "avg_amount": "Average paid ($)",
    "credits_used": "Credits applied",
    "credit_amount": "Credits applied ($)",
}


admin.site.unregister(Product)


@admin.register(Product)
class ProductAdmin(CatalogProductAdmin):
    def get_urls(self):
        # Before the default URLs: "<path:object_id>/" would take "analytics/".
        return [
            path(
                "analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name="catalog_product_analytics",
            ),
            *super().get_urls(),
        ]

    def analytics_view(self, request):
        # admin_view already keeps out everyone but active staff; sales figures
        # also need the right to see products and purchases.
        if not (
            self.has_view_permission(request) and request.user.has_perm("purchases.view_purchase")
        ):
            raise PermissionDenied
        report = product_sales_report(order_by=request.GET.get("o", ""))
        if request.GET.get("export") == "csv":
            return _analytics_csv(report)
        headers = _analytics_headers(report.order_by)
        rows = [
            (
                row,
                reverse("admin:catalog_product_change", args=[row.product_id])
                if row.product_id
                else None,
            )
            for row in report.rows
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Product analytics",
            "opts": self.model._meta,
            "headers": headers,
            "rows": rows,
            "totals": report.totals,
            "csv_query": f"?o={report.order_by}&export=csv",
        }
        return TemplateResponse(request, "admin/catalog/product/analytics.html", context)


def _analytics_headers(order_by: str) -> list[dict]:
    """Column headings that sort the report; a click on the sorted one flips it."""
    sort_column = order_by.lstrip("-")
    descending = order_by.startswith("-")
    headers = []
    for name, label in ANALYTICS_HEADINGS.items():
        numeric = name != "product_name"
        if name == sort_column:
            next_order = name if descending else f"-{name}"
        else:
            next_order = f"-{name}" if numeric else name  # largest first; names A-Z
        headers.append(
            {
                "name": name,
                "label": label,
                "numeric": numeric,
                "sorted": name == sort_column,
                "descending": descending,
                "query": f"?o={next_order}",
            }
        )
    return headers


def _analytics_csv(report) -> HttpResponse:
    stamp = timezone.now().strftime("%Y%m%d")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="product-analytics-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(["Product id", *ANALYTICS_HEADINGS.values()])
    for row in [*report.rows, report.totals]:
        writer.writerow(
            [
                str(row.product_id) if row.product_id else "",
                *(format_value(getattr(row, name)) for name in ANALYTICS_COLUMNS),
            ]
        )
    return response
