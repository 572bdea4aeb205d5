from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from catalog.forms import ChangeCategoryForm
from catalog.models import Category, Product
from catalog.services import product_bulk_set_category

# Products on the change-category page; the rest are counted, not listed.
CHANGE_CATEGORY_LISTED = 20


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "category", "price", "created_at")
    list_filter = ("category",)
    search_fields = ("title", "author")
    ordering = ("-created_at",)
    fields = (
        "title",
        "author",
        "description",
        "price",
        "category",
        "image_url",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("created_at", "updated_at")
    actions = ("change_category",)

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
        return self._change_category_page(request, queryset, form)

    def _change_category_page(self, request, queryset, form):
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
