"""Staff view of users. New users are made by the same service as sign-up."""

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import format_html

from accounts.forms import UserAdminChangeForm, UserAdminCreationForm
from accounts.models import User
from accounts.selectors import user_names_by_id
from accounts.services import user_create, user_update_profile


class UserChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # The referredBy column: one query for the whole page instead of one
        # per row, and no $lookup join (list_select_related), which is slow here.
        ids = [user.referred_by_id for user in self.result_list]
        labels = user_names_by_id(ids) if any(ids) else {}
        for user in self.result_list:
            user.referrer_label = labels.get(user.referred_by_id)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = [
        "email",
        "name",
        "referral_code",
        "credits",
        "total_credits_earned",
        "total_referred_users",
        "referred_by_link",
        "is_staff",
        "created_at",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name", "referral_code"]
    ordering = ["-created_at"]
    show_full_result_count = False  # a second count over the whole collection per page
    # Balances and counters move only through services (ledger, conversions);
    # the admin never writes them.
    readonly_fields = [
        "clerk_user_id",
        "referral_code",
        "credits",
        "total_credits_earned",
        "total_referred_users",
        "referred_by_link",
        "last_login",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "email", "clerk_user_id", "referral_code"]}),
        (
            "Credits and referrals",
            {
                "fields": [
                    "credits",
                    "total_credits_earned",
                    "total_referred_users",
                    "referred_by_link",
                ]
            },
        ),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["name", "email", "password1", "password2"]}),
        ("Permissions", {"fields": ["is_staff", "is_superuser"]}),
    ]
    # Django's two-box widget (SelectFilter2.js) puts aria-label on spans with
    # no role, which assistive technology ignores: the plain multi-select is accessible.
    filter_horizontal = ()

    def get_changelist(self, request, **kwargs):
        return UserChangeList

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="referred by")
    def referred_by_link(self, obj):
        if not obj.referred_by_id:
            return "-"
        if not hasattr(obj, "referrer_label"):  # the change page: one row, one query
            obj.referrer_label = user_names_by_id([obj.referred_by_id]).get(obj.referred_by_id)
        label = obj.referrer_label or str(obj.referred_by_id)
        url = reverse("admin:accounts_user_change", args=[obj.referred_by_id])
        return format_html('<a href="{}">{}</a>', url, label)

    def response_add(self, request, obj, post_url_continue=None):
        # Like Django's UserAdmin: after adding, show the new user's page
        # (with the referral code just generated) unless "add another" was asked.
        if "_addanother" not in request.POST and IS_POPUP_VAR not in request.POST:
            request.POST = request.POST.copy()
            request.POST["_continue"] = 1
        return super().response_add(request, obj, post_url_continue)

    def save_model(self, request, obj, form, change):
        if change:
            # Only the edited columns: a full save() would write back credits
            # read when the form was loaded, undoing awards made meanwhile.
            user_update_profile(user=obj, fields=form.changed_data)
            return
        data = form.cleaned_data
        created = user_create(
            email=data["email"],
            password=data["password1"],
            name=data["name"],
            is_staff=data.get("is_staff", False),
            is_superuser=data.get("is_superuser", False),
        )
        # The admin goes on with ``obj`` (log entry, redirect): make it the new user.
        for field in User._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db


admin.site.unregister(Group)


@admin.register(Group)
class AccessibleGroupAdmin(GroupAdmin):
    filter_horizontal = ()  # the plain multi-select (see UserAdmin)
