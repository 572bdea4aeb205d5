"""The admin index's overview for staff: revenue, the referral funnel, credit
liability, waiting reviews and the slowest recent database commands.

Every figure group is one command (the funnel's first purchases: one more per
400 buyers, gap 6), on the collections directly, so the page costs the same
however many purchases, users and referrals there are. Times are UTC days
(settings.TIME_ZONE); a week starts on Monday.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bson import Decimal128
from django.utils import timezone

from accounts.models import User
from credits.rules import credits_value
from purchases.models import Purchase
from purchases.selectors import purchases_counted_as_sales
from referral_site.batching import batched
from referral_site.db.collections import collection
from referral_site.db_monitoring import RECENT_COMMANDS, RecentCommand, slowest_recent_commands
from referral_site.money import money
from referrals.models import Referral, ReferralStatus
from referrals.selectors import referral_link_opens, referral_reviews_waiting

FUNNEL_DAYS = 30
SLOW_COMMANDS_SHOWN = 10


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of the moment's UTC day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _count_if(condition: dict) -> dict:
    """A $group accumulator: how many documents meet ``condition``."""
    return {"$sum": {"$cond": [condition, 1, 0]}}


def _single(documents) -> dict:
    """The one document of a $group by null, or {} when nothing matched."""
    return next(iter(documents), {})


# --- Revenue -----------------------------------------------------------------


@dataclass(frozen=True)
class Takings:
    label: str
    since: datetime
    amount: Decimal
    sales: int


def revenue(*, now: datetime) -> list[Takings]:
    """Card takings today, this week (from Monday) and this month, UTC.

    Revenue is the cash (card) part of the purchases the analytics count as
    sales (purchases.selectors.purchases_counted_as_sales): completed ones.
    Refunded purchases are not revenue: their money went back, so a refund
    takes the sale out of the period it was made in. Credits applied are not
    revenue either: they were paid for by earlier rewards, not by the buyer.
    Dated by the purchase's createdAt. One aggregation on the createdAt index.
    """
    today = day_start(now)
    periods = [
        ("Today", today),
        ("This week", today - timedelta(days=today.weekday())),
        ("This month", today.replace(day=1)),
    ]
    zero = Decimal128("0")
    group: dict = {"_id": None}
    for n, (_, since) in enumerate(periods):
        inside = {"$gte": ["$createdAt", since]}
        group[f"amount{n}"] = {"$sum": {"$cond": [inside, "$cashAmount", zero]}}
        group[f"sales{n}"] = _count_if(inside)
    earliest = min(since for _, since in periods)  # the week can start last month
    pipeline = [
        {"$match": {**purchases_counted_as_sales(), "createdAt": {"$gte": earliest}}},
        {"$group": group},
    ]
    totals = _single(collection(Purchase).aggregate(pipeline))
    return [
        Takings(
            label=label,
            since=since,
            amount=money(totals.get(f"amount{n}")),
            sales=int(totals.get(f"sales{n}") or 0),
        )
        for n, (label, since) in enumerate(periods)
    ]


# --- The referral funnel -------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    days: int
    since: datetime
    links_opened: int
    signups: int
    first_purchases: int
    rewarded: int


def referral_funnel(*, now: datetime, days: int = FUNNEL_DAYS) -> Funnel:
    """What happened in the referral programme in the last ``days`` UTC days, today included.

    Each step counts the events of the period (not a cohort followed through):
    - links opened: openings of valid referral links (referralLinkOpens, per UTC day);
    - sign-ups: referrals created (a user who signed up through a link);
    - first purchases: referred users' first completed purchases (isFirstPurchase,
      dated by the purchase), whether or not they qualified for the reward and
      even if refunded since: the step is the purchase, not the reward;
    - rewarded: referrals converted with both rewards awarded (held ones
      included) and not reversed by a refund; not those waiting for review,
      rejected, over the monthly cap or below the qualifying amount.
    """
    since = day_start(now) - timedelta(days=days - 1)
    rewarded = {
        "$and": [
            {"$gte": ["$convertedAt", since]},  # null and missing sort below any date
            {"$eq": ["$status", ReferralStatus.CONVERTED.value]},
            {"$eq": ["$creditsAwarded", True]},
            {"$eq": [{"$ifNull": ["$reversedAt", None]}, None]},
        ]
    }
    pipeline = [
        {"$match": {"$or": [{"createdAt": {"$gte": since}}, {"convertedAt": {"$gte": since}}]}},
        {
            "$group": {
                "_id": None,
                "signups": _count_if({"$gte": ["$createdAt", since]}),
                "rewarded": _count_if(rewarded),
            }
        },
    ]
    referrals = _single(collection(Referral).aggregate(pipeline))
    return Funnel(
        days=days,
        since=since,
        links_opened=referral_link_opens(since=since),
        signups=int(referrals.get("signups") or 0),
        first_purchases=_referred_first_purchases(since=since),
        rewarded=int(referrals.get("rewarded") or 0),
    )


def _referred_first_purchases(*, since: datetime) -> int:
    """First purchases since ``since`` whose buyer signed up through a referral link.

    Two single-collection reads instead of a $lookup: the buyers of first
    purchases (isFirstPurchase index; one each, by the partial unique index),
    then how many of them have referredBy set (by _id, in batches, gap 6).
    """
    buyers = [
        document["userId"]
        for document in collection(Purchase).find(
            {"isFirstPurchase": True, "createdAt": {"$gte": since}}, {"userId": 1, "_id": 0}
        )
    ]
    users = collection(User)
    return sum(
        users.count_documents({"_id": {"$in": batch}, "referredBy": {"$ne": None}})
        for batch in batched(buyers)
    )


# --- Credit liability --------------------------------------------------------


@dataclass(frozen=True)
class Liability:
    """Credits the shop owes its customers: spendable now, and held (REFERRAL_HOLD_DAYS)."""

    spendable_credits: int
    held_credits: int

    @property
    def spendable_value(self) -> Decimal:
        return credits_value(self.spendable_credits)

    @property
    def held_value(self) -> Decimal:
        return credits_value(self.held_credits)

    @property
    def total_credits(self) -> int:
        return self.spendable_credits + self.held_credits

    @property
    def total_value(self) -> Decimal:
        return credits_value(self.total_credits)


def credit_liability() -> Liability:
    """The users' balances summed: users.credits and users.heldCredits, one $group."""
    pipeline = [
        {
            "$group": {
                "_id": None,
                "spendable": {"$sum": "$credits"},
                "held": {"$sum": "$heldCredits"},
            }
        }
    ]
    totals = _single(collection(User).aggregate(pipeline))
    return Liability(
        spendable_credits=int(totals.get("spendable") or 0),
        held_credits=int(totals.get("held") or 0),
    )


# --- The overview ----------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """What the admin index shows a staff member: each part only with the right to see it."""

    now: datetime
    revenue: list[Takings] | None
    funnel: Funnel | None
    liability: Liability | None
    waiting_reviews: int | None
    slow_commands: list[RecentCommand]
    recent_commands: int
    # The product analytics page (purchases.admin) needs both rights.
    analytics: bool


def staff_overview(*, user, now: datetime | None = None) -> Overview:
    now = now or timezone.now()
    return Overview(
        now=now,
        revenue=revenue(now=now) if user.has_perm("purchases.view_purchase") else None,
        funnel=referral_funnel(now=now) if user.has_perm("referrals.view_referral") else None,
        liability=credit_liability() if user.has_perm("accounts.view_user") else None,
        waiting_reviews=(
            referral_reviews_waiting() if user.has_perm("backoffice.view_referralreview") else None
        ),
        slow_commands=slowest_recent_commands(SLOW_COMMANDS_SHOWN),
        recent_commands=RECENT_COMMANDS,
        analytics=user.has_perms(["catalog.view_product", "purchases.view_purchase"]),
    )
