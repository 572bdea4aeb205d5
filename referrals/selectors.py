"""Reads for referrals."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from accounts.models import User
from referral_site.db.collections import collection
from referral_site.formats import day_label, table_date
from referral_site.paging import Page, aware, facet_page
from referrals.models import NotRewarded, Referral, ReferralLinkDay, ReferralStatus, Review


def referral_get_for_referred_user(*, referred_user_id) -> Referral | None:
    """The referral a user signed up through (at most one: unique referredUserId)."""
    try:
        return Referral.objects.get(referred_user_id=referred_user_id)
    except Referral.DoesNotExist:
        return None


def referral_get(*, referral_id) -> Referral | None:
    return Referral.objects.filter(pk=referral_id).first()


def referrals_owing_reward():
    """Referrals whose rewards are still owed once converted: not closed
    unrewarded, not waiting for or refused by review, not reversed."""
    return Referral.objects.filter(
        not_rewarded_reason="",
        review__in=["", Review.APPROVED],
        reversed_at__isnull=True,
    )


def referral_link_opens(*, since: datetime) -> int:
    """Referral links opened since that day (UTC days; one command)."""
    rows = collection(ReferralLinkDay).find(
        {"day": {"$gte": since.astimezone(UTC).strftime("%Y-%m-%d")}}, {"opens": 1}
    )
    return sum(r.get("opens", 0) for r in rows)


def referral_friend_names(*, referrer_id, referral_ids) -> dict:
    """{referral id: the referred friend's first name} for this referrer's referrals.

    Two commands (the referrals by _id, then their users by _id), whatever the
    number of ids; an erased account is "A friend". For ledger entries written
    before they named their friend (referredUserId); the others need only
    referral_first_names.
    """
    if not referral_ids:
        return {}
    referrals = {
        d["_id"]: d["referredUserId"]
        for d in collection(Referral).find(
            {"_id": {"$in": list(referral_ids)}, "referrerId": referrer_id}, {"referredUserId": 1}
        )
    }
    if not referrals:
        return {}
    users = _users(set(referrals.values()))
    return {rid: _first_name(users.get(uid)) for rid, uid in referrals.items()}


def referral_first_names(*, user_ids) -> dict:
    """{user id: first name} of referred friends (one read by _id); erased: "A friend"."""
    return _first_names(user_ids, _users(set(user_ids)))


def _users(user_ids) -> dict:
    """{user id: {name, isActive}}: one find by _id."""
    if not user_ids:
        return {}
    found = collection(User).find({"_id": {"$in": list(user_ids)}}, {"name": 1, "isActive": 1})
    return {u["_id"]: u for u in found}


def _first_names(user_ids, users: dict) -> dict:
    """{user id: first name} of these ids, from the users read."""
    return {uid: _first_name(users.get(uid)) for uid in user_ids}


def _first_name(user: dict | None) -> str:
    if user is None or not user.get("isActive", True):
        return "A friend"
    return ((user.get("name") or "").split() or ["A friend"])[0]


def referral_reviews_waiting() -> int:
    return collection(Referral).count_documents({"review": Review.WAITING.value})


# --- The referral dashboard --------------------------------------------------
# Every read below is one command on one collection, on an indexed field
# (referrals.referrerId, creditTransactions.userId, users._id), so the
# dashboard's command count does not grow with referrals or ledger entries.

REFERRALS_PER_PAGE = 10
REFERRAL_SORTS = {
    "-joined": {"createdAt": -1, "_id": -1},
    "joined": {"createdAt": 1, "_id": 1},
    "status": {"status": 1, "createdAt": -1, "_id": -1},
    "-status": {"status": -1, "createdAt": -1, "_id": -1},
}
DEFAULT_REFERRAL_SORT = "-joined"


@dataclass(frozen=True)
class ReferralStats:
    total: int
    converted: int

    @property
    def pending(self) -> int:
        return self.total - self.converted

    @property
    def conversion_rate(self) -> Decimal:
        """Converted over total, in percent, one decimal place."""
        if not self.total:
            return Decimal("0.0")
        return (Decimal(self.converted * 100) / self.total).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class ReferredUserRow:
    name: str
    joined: datetime
    status: str
    converted_at: datetime | None
    not_rewarded_reason: str = ""
    review: str = ""
    held_until: datetime | None = None
    released_at: datetime | None = None
    reversed_at: datetime | None = None
    # The dates as the dashboard's table shows them, formatted once here.
    joined_label: str = ""
    converted_label: str = ""

    @property
    def state(self) -> str:
        """The referral's state in plain words, for the referrer.

        Never names a detection rule: a referral under review or rejected says
        only that.
        """
        return self._state(friend=False)

    @property
    def awaiting_first_purchase(self) -> bool:
        return (
            self.status == ReferralStatus.PENDING
            and not self.not_rewarded_reason
            and self.reversed_at is None
        )

    @property
    def spendable(self) -> bool:
        """Converted and rewarded, the rewards spendable now (not held, reviewed or reversed)."""
        return (
            self.status == ReferralStatus.CONVERTED
            and self.reversed_at is None
            and self.review != Review.WAITING
            and not self.not_rewarded_reason
            and not (self.held_until is not None and self.released_at is None)
        )

    @property
    def friend_receipt(self) -> str:
        """What the friend's first receipt says of their welcome reward."""
        if self.spendable:
            return "Your first purchase: you and the friend who invited you both earned credits."
        return "Your welcome reward: " + self._state(friend=True)

    @property
    def friend_state(self) -> str:
        """The same state, for the friend who was invited."""
        return self._state(friend=True)

    def _state(self, *, friend: bool) -> str:
        minimum = settings.REFERRAL_MIN_QUALIFYING_AMOUNT
        if self.reversed_at is not None:
            return "Reversed: " + ("your" if friend else "the") + " first purchase was refunded"
        if self.review == Review.WAITING:
            return "Under review: we are checking this referral before rewarding it"
        if self.not_rewarded_reason == NotRewarded.REJECTED:
            return "Not rewarded: it did not meet the programme's terms"
        if self.not_rewarded_reason == NotRewarded.MONTHLY_CAP:
            return "Not rewarded: this month's limit of rewards was already reached"
        if self.spendable:
            return "Rewarded"
        if self.status == ReferralStatus.CONVERTED:
            return f"Held until {day_label(self.held_until)}, then spendable"
        if self.not_rewarded_reason == NotRewarded.BELOW_MINIMUM:
            return (
                "Not rewarded: "
                + ("your" if friend else "the")
                + f" first purchase was under ${minimum} by card"
            )
        if friend:
            return (
                f"Pending: your welcome reward comes with a first purchase of ${minimum} "
                f"or more by card"
            )
        return "Pending: no purchase yet"


_ROW_FIELDS = {
    "referredUserId": 1,
    "createdAt": 1,
    "status": 1,
    "convertedAt": 1,
    "notRewardedReason": 1,
    "review": 1,
    "rewardHeldUntil": 1,
    "rewardReleasedAt": 1,
    "reversedAt": 1,
}


def _row(document: dict, *, name: str) -> ReferredUserRow:
    return ReferredUserRow(
        name=name,
        joined=aware(document["createdAt"]),
        status=document["status"],
        converted_at=aware(document.get("convertedAt")),
        not_rewarded_reason=document.get("notRewardedReason") or "",
        review=document.get("review") or "",
        held_until=aware(document.get("rewardHeldUntil")),
        released_at=aware(document.get("rewardReleasedAt")),
        reversed_at=aware(document.get("reversedAt")),
        joined_label=table_date(document["createdAt"]),
        converted_label=table_date(document.get("convertedAt")),
    )


def referral_invitation(*, referred_user_id) -> ReferredUserRow | None:
    """The referral a user signed up through, as their dashboard shows it (one indexed read)."""
    document = collection(Referral).find_one({"referredUserId": referred_user_id}, _ROW_FIELDS)
    return _row(document, name="") if document else None


@dataclass(frozen=True)
class DashboardReferrals:
    stats: ReferralStats
    page: Page  # of ReferredUserRow
    friend_names: dict  # {user id: first name} for the friend_user_ids asked for


def referral_dashboard_referrals(
    *,
    referrer_id,
    page: int = 1,
    sort: str = DEFAULT_REFERRAL_SORT,
    per_page: int = REFERRALS_PER_PAGE,
    friend_user_ids=(),
) -> DashboardReferrals:
    """The referrer's statistics, one page of the people they referred, and friends' names.

    One aggregation (schema.md, "User Statistics", without the $lookup): a
    $facet counts the referrals by status in the database (the total is their
    sum) and returns the requested page (the last one when ``page`` is beyond it). A second
    command fetches the names of that page's users and of ``friend_user_ids``
    (the friends the statement names) by _id.
    """
    result = facet_page(
        collection(Referral),
        match={"referrerId": referrer_id},
        sort=REFERRAL_SORTS.get(sort, REFERRAL_SORTS[DEFAULT_REFERRAL_SORT]),
        page=page,
        per_page=per_page,
        # Counted by status, the total their sum: no per-document expression
        # and no $count pass of its own (each costs the embedded server a
        # visit of every referral).
        extra_facets={"statuses": [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]},
        count=lambda extra: sum(group["n"] for group in extra["statuses"]),
    )
    by_status = {group["_id"]: group["n"] for group in result.extra["statuses"]}
    stats = ReferralStats(
        total=result.count, converted=by_status.get(ReferralStatus.CONVERTED.value, 0)
    )
    users = _users({d["referredUserId"] for d in result.rows} | set(friend_user_ids))
    missing = {"name": "(deleted)"}
    rows = [
        _row(d, name=users.get(d["referredUserId"], missing).get("name", "")) for d in result.rows
    ]
    return DashboardReferrals(
        stats=stats,
        page=Page(object_list=rows, number=result.number, per_page=per_page, count=stats.total),
        friend_names=_first_names(friend_user_ids, users),
    )
