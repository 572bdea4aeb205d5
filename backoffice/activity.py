"""The staff activity page's read model: one user's balances, ledger, purchases,
referrals and admin log, each one query on one collection and an indexed field."""

from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from accounts.models import User
from accounts.selectors import user_names_by_id
from credits.models import CreditTransaction
from purchases.models import Download, Purchase
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
    rows = list(queryset.order_by(order)[: limit + 1])
    if len(rows) <= limit:
        return ActivitySection(rows=rows, total=len(rows))
    return ActivitySection(rows=rows[:limit], total=queryset.count())


def user_activity(*, user: User) -> dict:
    """Everything staff need to see what happened to one account.

    Each section is one query on one collection and an indexed field (userId,
    referrerId, referredUserId; the admin log by content type). Other users
    are loaded once, by id, for their names.
    """
    ledger = _latest(CreditTransaction.objects.filter(user_id=user.pk), order="-created_at")
    purchases = _latest(Purchase.objects.filter(user_id=user.pk), order="-created_at")
    downloads = _latest(Download.objects.filter(user_id=user.pk), order="-created_at")
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
            related_log.extend(
                LogEntry.objects.filter(
                    content_type_id=content_types[model].pk,
                    object_id__in=[str(row.pk) for row in section.rows],
                )
            )
    related_log.sort(key=lambda entry: entry.action_time, reverse=True)

    names = user_names_by_id(
        [
            user.referred_by_id,
            *(row.actor_id for row in ledger.rows),
            *(row.referred_user_id for row in referrals_made.rows),
            *(row.referrer_id for row in referrals_received),
            *(entry.user_id for entry in admin_log.rows),
            *(entry.user_id for entry in related_log),
        ]
    )
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
        "downloads": downloads,
        "referrals_made": referrals_made,
        "referrals_received": referrals_received,
        "admin_log": admin_log,
        "related_log": related_log,
    }
