"""The ledger for staff: read-only, plus credit adjustments through the service."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from credits.forms import CreditAdjustmentForm
from credits.models import CreditTransaction
from credits.services import credits_adjust
from referral_site.admin_mixins import ReadOnlyAdminMixin
from referral_site.exceptions import ApplicationError
from referral_site.intents import new_intent_token


class ShortfallFilter(admin.SimpleListFilter):
    """Clawbacks the balance could not cover: the credits were spent before the refund."""

    title = "shortfall"
    parameter_name = "shortfall"

    def lookups(self, request, model_admin):
        return [("yes", "With a shortfall")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(shortfall__gt=0)
        return queryset


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "user_id",
        "amount",
        "held_amount",
        "shortfall",
        "kind",
        "reason",
        "balance_after",
        "actor_id",
        "purchase_id",
        "referral_id",
    )
    list_filter = ("kind", ShortfallFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("idempotency_key", "reason")
    ordering = ("-created_at",)
    readonly_fields = [f.name for f in CreditTransaction._meta.fields]

    def has_add_permission(self, request):
        # "Add" is the adjustment form below, never a raw ledger row.
        return admin.ModelAdmin.has_add_permission(self, request)

    def add_view(self, request, form_url="", extra_context=None):
        """'Add' is a credit adjustment: an entry through credits_adjust, never a raw row."""
        if not self.has_add_permission(request):
            return redirect("admin:index")
        if request.method != "POST":
            form = CreditAdjustmentForm(
                initial={"token": new_intent_token(), "user": request.GET.get("user", "")}
            )
            return self._adjust_page(request, form, extra_context)
        form = CreditAdjustmentForm(request.POST)
        if not form.is_valid():
            return self._adjust_page(request, form, extra_context)
        data = form.cleaned_data
        try:
            # The form's token makes a double submit one adjustment.
            entry = credits_adjust(
                user=data["user"],
                amount=data["amount"],
                reason=data["reason"],
                actor=request.user,
                idempotency_key=f"adjustment:{request.user.pk}:{data['token']}",
            )
        except ApplicationError as exc:
            exc.add_to_form(form)
            return self._adjust_page(request, form, extra_context)
        if entry is not None:
            self.log_addition(request, entry, [{"added": {}}])
        self.message_user(
            request,
            f"Adjusted {data['user'].name}'s credits by {data['amount']:+d}.",
            messages.SUCCESS,
        )
        return redirect("admin:credits_credittransaction_changelist")

    def _adjust_page(self, request, form, extra_context):
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": "Adjust a customer's credits",
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/credits/adjust.html", context)
