"""Staff view of users. New users are made by the same service as sign-up."""

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.forms import UserAdminChangeForm, UserAdminCreationForm
from accounts.gdpr import user_is_erased
from accounts.models import User
from accounts.services import user_create, user_update_profile
from credits.models import CreditTransaction
from purchases.models import Purchase
from referral_site.batching import batched
from referrals.models import Referral

# Rows per section of a user's activity page; the total is shown when there are more.
ACTIVITY_LIMIT = 200


@dataclass(frozen=True)
class ActivitySection:
    rows: list
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def _latest(queryset, *, order: str) -> ActivitySection:
    """The newest ACTIVITY_LIMIT rows, and the count only when there are more (a second query)."""
    limit = ACTIVITY_LIMIT
    rows = list(queryset.order_by(order)[:limit + 1])
    if len(rows) <= limit:
        return ActivitySection(rows=rows, total=len(rows))
    return ActivitySection(rows=rows[:limit], total=queryset.count())


def _user_names(ids) -> dict:
    """Names for the user ids shown: one query per 400 ids, no join."""
    names = {}
    for batch in batched(sorted({i for i in ids if i is not None}, key=str)):
        names.update(User.objects.filter(pk__in=batch).values_list("pk", "name"))
    return names


def user_activity(*, user: User) -> dict:
    """Everything staff need to see what happened to one account.

    Each section is one query on one collection and an indexed field (userId,
    referrerId, referredUserId; the admin log by content type). Other users
    are loaded once, by id, for their names.
    """
    ledger = _latest(CreditTransaction.objects.filter(user_id=user.pk), order="-created_at")
    purchases = _latest(Purchase.objects.filter(user_id=user.pk), order="-created_at")
    referrals_made = _latest(Referral.objects.filter(referrer_id=user.pk), order="-created_at")
    referrals_received = list(Referral.objects.filter(referred_user_id=user.pk))  # unique: <= 1
    content_types = ContentType.objects.get_for_models(User, Purchase, CreditTransaction)
    admin_log = _latest(
        LogEntry.objects.filter(content_type_id=content_types[User].pk, object_id=str(user.pk)),
        order="-action_time",
    )
    # The refund action and credit adjustments log against the purchase or the
    # ledger entry: those about the rows shown (at most ACTIVITY_LIMIT ids each).
    related_log = []
    for model, section in ((Purchase, purchases), (CreditTransaction, ledger)):
        if section.rows:
            related_log.extend(LogEntry.objects.filter(
                content_type_id=content_types[model].pk,
                object_id__in=[str(row.pk) for row in section.rows]))
    related_log.sort(key=lambda entry: entry.action_time, reverse=True)

    names = _user_names([
        user.referred_by_id,
        *(row.actor_id for row in ledger.rows),
        *(row.referred_user_id for row in referrals_made.rows),
        *(row.referrer_id for row in referrals_received),
        *(entry.user_id for entry in admin_log.rows),
        *(entry.user_id for entry in related_log),
    ])
    for row in ledger.rows:
        row.actor_name = names.get(row.actor_id)
    # "The other person" of each referral, so one table template serves both.
    for row in referrals_made.rows:
        row.other_id = row.referred_user_id
        row.other_name = names.get(row.other_id)
    for row in referrals_received:
        row.other_id = row.referrer_id
        row.other_name = names.get(row.other_id)
    for entry in (*admin_log.rows, *related_log):
        entry.actor_name = names.get(entry.user_id)
    return {
        "referrer_name": names.get(user.referred_by_id),
        "ledger": ledger,
        "purchases": purchases,
        "referrals_made": referrals_made,
        "referrals_received": referrals_received,
        "admin_log": admin_log,
        "related_log": related_log,
    }


class UserChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # The referredBy column: one query for the whole page instead of one
        # per row, and no $lookup join (list_select_related), which is slow here.
        ids = {user.referred_by_id for user in self.result_list if user.referred_by_id}
        labels = dict(User.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
        for user in self.result_list:
            user.referrer_label = labels.get(user.referred_by_id)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = [
        "email", "name", "referral_code", "credits", "total_credits_earned",
        "total_referred_users", "referred_by_link", "is_staff", "created_at",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name", "referral_code"]
    ordering = ["-created_at"]
    show_full_result_count = False  # a second count over the whole collection per page
    # Balances and counters move only through services (ledger, conversions);
    # the admin never writes them.
    readonly_fields = [
        "clerk_user_id", "referral_code", "credits", "total_credits_earned",
        "total_referred_users", "referred_by_link", "last_login", "created_at", "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "email", "clerk_user_id", "referral_code"]}),
        ("Credits and referrals", {"fields": [
            "credits", "total_credits_earned", "total_referred_users", "referred_by_link"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["name", "email", "password1", "password2"]}),
        ("Permissions", {"fields": ["is_staff", "is_superuser"]}),
    ]
    filter_horizontal = ["groups"]

    def get_urls(self):
        activity = path(
            "<path:object_id>/activity/", self.admin_site.admin_view(self.activity_view),
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
            "limit": ACTIVITY_LIMIT,
            **user_activity(user=user),
        }
        return TemplateResponse(request, "admin/accounts/user/activity.html", context)

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
            obj.referrer_label = User.objects.filter(pk=obj.referred_by_id).values_list(
                "name", flat=True).first()
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
            email=data["email"], password=data["password1"], name=data["name"],
            is_staff=data.get("is_staff", False), is_superuser=data.get("is_superuser", False),
        )
        # The admin goes on with ``obj`` (log entry, redirect): make it the new user.
        for field in User._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db
