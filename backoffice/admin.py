"""The staff activity page, added to the accounts app's user admin.

It reads every app's collections, so it lives here at the top and extends
accounts' UserAdmin (re-registered) instead of accounts reaching up.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin import UserAdmin as AccountsUserAdmin
from accounts.models import User
from backoffice import activity
from backoffice.gdpr import user_is_erased

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
