import csv

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from catalog.forms import ChangeCategoryForm
from catalog.models import Category, Product
from catalog.selectors import ANALYTICS_COLUMNS, product_sales_report
from catalog.services import product_bulk_set_category

ANALYTICS_HEADINGS = {
    "product_name": "Product",
    "total_sales": "Total sales ($)",
    "total_purchases": "Purchases",
    "avg_amount": "Average paid ($)",
    "credits_used": "Credits applied",
    "credit_amount": "Credits applied ($)",
}
# Products on the change-category page; the rest are counted, not listed.
CHANGE_CATEGORY_LISTED = 20


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "category", "price", "created_at")
    list_filter = ("category",)
    search_fields = ("title", "author")
    ordering = ("-created_at",)
    fields = ("title", "author", "description", "price", "category", "image_url",
              "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    actions = ("change_category",)

    def get_urls(self):
        # Before the default URLs: "<path:object_id>/" would take "analytics/".
        return [
            path("analytics/", self.admin_site.admin_view(self.analytics_view),
                 name="catalog_product_analytics"),
            *super().get_urls(),
        ]

    # ---- bulk action ---------------------------------------------------

    @admin.action(description="Change category of selected products", permissions=["change"])
    def change_category(self, request, queryset):
        if "apply" in request.POST:
            form = ChangeCategoryForm(request.POST)
            if form.is_valid():
                category = form.cleaned_data["category"]
                changed = product_bulk_set_category(products=queryset, category=category)
                self.message_user(
                    request,
                    f"Moved {changed} product{'s' if changed != 1 else ''} to "
                    f"{Category(category).label}.",
                    messages.SUCCESS,
                )
                return None  # back to the change list
        else:
            form = ChangeCategoryForm()
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "title": "Change category",
            "opts": self.model._meta,
            "form": form,
            "count": count,
            "products": list(queryset[:CHANGE_CATEGORY_LISTED]),
            "more": max(count - CHANGE_CATEGORY_LISTED, 0),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across") == "1",
        }
        return TemplateResponse(request, "admin/catalog/product/change_category.html", context)

    # ---- analytics ---------------------------------------------------------

    def analytics_view(self, request):
        # admin_view already keeps out everyone but active staff; sales figures
        # also need the right to see products and purchases.
        if not (self.has_view_permission(request)
                and request.user.has_perm("purchases.view_purchase")):
            raise PermissionDenied
        report = product_sales_report(order_by=request.GET.get("o", ""))
        if request.GET.get("export") == "csv":
            return _analytics_csv(report)
        sort_column = report.order_by.lstrip("-")
        descending = report.order_by.startswith("-")
        headers = []
        for name, label in ANALYTICS_HEADINGS.items():
            numeric = name != "product_name"
            if name == sort_column:
                next_order = name if descending else f"-{name}"  # a click flips it
            else:
                next_order = f"-{name}" if numeric else name  # largest first; names A-Z
            headers.append({"name": name, "label": label, "numeric": numeric,
                            "sorted": name == sort_column, "descending": descending,
                            "query": f"?o={next_order}"})
        rows = [
            (row, reverse("admin:catalog_product_change", args=[row.product_id])
             if row.product_id else None)
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


def _analytics_csv(report) -> HttpResponse:
    stamp = timezone.now().strftime("%Y%m%d")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="product-analytics-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(["Product id", *ANALYTICS_HEADINGS.values()])
    for row in [*report.rows, report.totals]:
        writer.writerow([
            str(row.product_id) if row.product_id else "",
            *(_csv_cell(getattr(row, name)) for name in ANALYTICS_COLUMNS),
        ])
    return response


def _csv_cell(value):
    # A spreadsheet runs a cell starting with = + - @ as a formula; product
    # names are typed by people, so quote those (OWASP "CSV injection").
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
