"""Purchases for staff: read-only, with a refund action that goes through the service."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from purchases.models import PaymentEvent, Purchase, PurchaseStatus
from purchases.services import purchase_refund
from referral_site.admin_mixins import ReadOnlyAdminMixin


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("product_name", "buyer", "amount", "credits_used", "cash_amount", "status",
                    "is_first_purchase", "referral_credit_awarded", "created_at")
    list_filter = ("status", "is_first_purchase", "referral_credit_awarded",
                   ("created_at", admin.DateFieldListFilter))
    search_fields = ("product_name", "payment_method_id", "payment_intent_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ["refund_selected"]
    readonly_fields = [f.name for f in Purchase._meta.fields]

    @admin.display(description="Buyer")
    def buyer(self, purchase):
        # A link by id, not the user's name: no query per row (no joins here).
        url = reverse("admin:accounts_user_change", args=[purchase.user_id])
        return format_html('<a href="{}">{}</a>', url, purchase.user_id)

    @admin.action(description="Refund selected purchases (returns the credits they used)")
    def refund_selected(self, request, queryset):
        refunded = skipped = 0
        for purchase in queryset:
            if purchase.status == PurchaseStatus.COMPLETED and purchase_refund(
                    purchase=purchase, actor=request.user):
                refunded += 1
                self.log_change(request, purchase, f"Refunded; {purchase.credits_used} "
                                                   f"credit(s) returned")
            else:
                skipped += 1
        if refunded:
            self.message_user(request, f"Refunded {refunded} purchase(s); the credits they used "
                                       f"are back in the ledger.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {skipped} purchase(s) that were not completed.",
                              messages.WARNING)


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "type", "purchase_id", "created_at")
    list_filter = ("type",)
