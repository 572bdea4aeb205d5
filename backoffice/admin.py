"""Staff pages that span the apps: the activity page and the referral review queue.

The activity page reads every app's collections, so it lives here at the top
and extends accounts' UserAdmin (re-registered) instead of accounts reaching
up. The review queue approves through the purchases app (which marks the
purchase) and rejects through the referrals app.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin import UserAdmin as AccountsUserAdmin
from accounts.models import User
from backoffice import activity
from backoffice.gdpr import user_is_erased
from backoffice.models import ReferralReview
from purchases.services import purchase_review_approve
from referral_site.admin_mixins import ReadOnlyAdminMixin
from referrals.conversion import referral_review_reject
from referrals.models import Review, Signal

admin.site.unregister(User)


@admin.register(User)
class UserAdmin(AccountsUserAdmin):
    def get_urls(self):
        activity = path(
            "<path:object_id>/activity/",
            self.admin_site.admin_view(self.activity_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_activity",
        )
        # Before the defaults: their "<path:object_id>/" catch-all would take it.
        return [activity, *super().get_urls()]

    def activity_view(self, request, object_id):
        """One page with a user's balances, ledger, purchases, referrals and admin log."""
        user = self.get_object(request, unquote(object_id))
        if user is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, user):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Activity: {user.name}",
            "subject": user,
            "erased": user_is_erased(user),
            "limit": activity.ACTIVITY_LIMIT,
            **activity.user_activity(user=user),
        }
        return TemplateResponse(request, "admin/accounts/user/activity.html", context)


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept with the referral and in the admin log; never shown to the customers.",
    )


@admin.register(ReferralReview)
class ReferralReviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Conversions with abuse signals: approve (rewarded once) or reject (never)."""

    list_display = (
        "converted_at",
        "referred_user",
        "referrer",
        "signal_list",
        "review",
        "reviewed_by",
        "review_note",
    )
    list_filter = ("review",)
    list_select_related = ("referred_user", "referrer", "reviewed_by")
    ordering = ("-converted_at",)
    actions = ["approve", "reject"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(review="")

    @admin.display(description="signals")
    def signal_list(self, obj):
        return "; ".join(Signal(s).label for s in obj.signals if s in Signal.values)

    def has_review_permission(self, request):
        # Deciding is changing a referral; the queue itself is read-only.
        return request.user.has_perm("referrals.change_referral")

    @admin.action(
        description="Approve the selected referrals (award both rewards)", permissions=["review"]
    )
    def approve(self, request, queryset):
        approved = 0
        for review in queryset.filter(review=Review.WAITING):
            if purchase_review_approve(referral_id=review.pk, staff=request.user):
                approved += 1
                self.log_change(request, review, "Approved the referral: rewards awarded")
        self.message_user(request, f"Approved {approved} referral(s).", messages.SUCCESS)

    @admin.action(
        description="Reject the selected referrals (with a reason)", permissions=["review"]
    )
    def reject(self, request, queryset):
        waiting = list(queryset.filter(review=Review.WAITING))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            rejected = 0
            for review in waiting:
                if referral_review_reject(referral_id=review.pk, staff=request.user, note=reason):
                    rejected += 1
                    self.log_change(request, review, f"Rejected the referral: {reason}")
            self.message_user(request, f"Rejected {rejected} referral(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Reject referrals",
            "form": form,
            "reviews": waiting,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/backoffice/reject.html", context)
