from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.html import format_html

from catalog.forms import ChangeCategoryForm, ProductAdminForm
from catalog.html import product_cover
from catalog.models import Category, Product
from catalog.services import (
    product_bulk_set_category,
    product_cover_attach,
    product_file_attach,
)

# Products on the change-category page; the rest are counted, not listed.
CHANGE_CATEGORY_LISTED = 20


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "category", "price", "featured", "created_at")
    list_filter = ("featured", "category")
    search_fields = ("title", "author")
    ordering = ("-created_at",)
    form = ProductAdminForm
    fields = (
        "title",
        "author",
        "description",
        "price",
        "category",
        "featured",
        "upload_cover",
        "image_url",
        "cover_preview",
        "upload_file",
        "file_info",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("cover_preview", "file_info", "created_at", "updated_at")
    actions = ("change_category",)

    @admin.display(description="Shown as")
    def cover_preview(self, product):
        """What the shop displays: the stored cover, else the image URL, else the placeholder."""
        if product is None or not product.pk:
            return "Saved products show their cover here."
        return product_cover(product, css_class="admin-cover-preview", loading="eager")

    @admin.display(description="Current file")
    def file_info(self, product):
        if product is None or not product.file:
            return "No file yet: buyers will have nothing to download."
        return format_html(
            "{} · {} · {}<br><code>sha256 {}</code>",
            product.file_name,
            filesizeformat(product.file_size or 0),
            product.file_content_type,
            product.file_sha256,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # After the product exists: the services store each upload and record it.
        if upload := form.cleaned_data.get("upload_file"):
            product_file_attach(product=obj, upload=upload)
        if upload := form.cleaned_data.get("upload_cover"):
            product_cover_attach(product=obj, upload=upload)

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
