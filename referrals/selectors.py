"""Reads for referrals."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import User
from credits.models import CreditTransaction, Kind
from referral_site.paging import Page
from referrals.models import Referral, ReferralStatus


def referral_get_for_referred_user(*, referred_user_id) -> Referral | None:
    """The referral a user signed up through (at most one: unique referredUserId)."""
    try:
        return Referral.objects.get(referred_user_id=referred_user_id)
    except Referral.DoesNotExist:
        return None


# --- The referral dashboard --------------------------------------------------
# Every read below is one command on one collection, on an indexed field
# (referrals.referrerId, creditTransactions.userId, users._id), so the
# dashboard's command count does not grow with referrals or ledger entries.

REFERRALS_PER_PAGE = 10
STATEMENT_PER_PAGE = 10
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


@dataclass(frozen=True)
class StatementRow:
    date: datetime
    description: str
    amount: int
    balance_after: int | None


def _page_bounds(page: int, per_page: int) -> tuple[int, int]:
    return (page - 1) * per_page, per_page


def _facet(collection: str, match: dict, sort: dict, page: int, per_page: int,
           extra_facets: dict | None = None) -> dict:
    skip, limit = _page_bounds(page, per_page)
    facets = {
        "rows": [{"$sort": sort}, {"$skip": skip}, {"$limit": limit}],
        "count": [{"$count": "n"}],
        **(extra_facets or {}),
    }
    result = list(connection.get_collection(collection).aggregate(
        [{"$match": match}, {"$facet": facets}]))
    return result[0] if result else {key: [] for key in facets}


def referral_dashboard_referrals(*, referrer_id, page: int = 1,
                                 sort: str = DEFAULT_REFERRAL_SORT,
                                 per_page: int = REFERRALS_PER_PAGE
                                 ) -> tuple[ReferralStats, Page]:
    """The referrer's statistics and one page of the people they referred.

    One aggregation (schema.md, "User Statistics", without the $lookup): a
    $facet counts total and converted referrals in the database and returns
    the requested page. A second command fetches the names of that page's
    users (at most ``per_page`` ids, by _id).
    """
    result = _facet(
        Referral._meta.db_table, {"referrerId": referrer_id},
        REFERRAL_SORTS.get(sort, REFERRAL_SORTS[DEFAULT_REFERRAL_SORT]), page, per_page,
        extra_facets={"stats": [{"$group": {
            "_id": None,
            "total": {"$sum": 1},
            "converted": {"$sum": {"$cond": [
                {"$eq": ["$status", ReferralStatus.CONVERTED.value]}, 1, 0]}},
        }}]},
    )
    stats_doc = (result.get("stats") or [{}])[0]
    stats = ReferralStats(total=stats_doc.get("total", 0),
                          converted=stats_doc.get("converted", 0))
    documents = result.get("rows", [])
    names = {}
    if documents:
        users = connection.get_collection(User._meta.db_table).find(
            {"_id": {"$in": [d["referredUserId"] for d in documents]}}, {"name": 1})
        names = {u["_id"]: u.get("name", "") for u in users}
    rows = [ReferredUserRow(name=names.get(d["referredUserId"], "(deleted)"),
                            joined=_aware(d["createdAt"]), status=d["status"],
                            converted_at=_aware(d.get("convertedAt")))
            for d in documents]
    return stats, Page(object_list=rows, number=page, per_page=per_page, count=stats.total)


def credit_statement(*, user_id, page: int = 1, per_page: int = STATEMENT_PER_PAGE) -> Page:
    """One page of the user's credit ledger, newest first: one aggregation."""
    result = _facet(CreditTransaction._meta.db_table, {"userId": user_id},
                    {"createdAt": -1, "_id": -1}, page, per_page)
    count = (result.get("count") or [{}])[0].get("n", 0)
    labels = dict(Kind.choices)
    rows = [StatementRow(date=_aware(d["createdAt"]),
                         description=d.get("reason") or labels.get(d["kind"], d["kind"]),
                         amount=d["amount"], balance_after=d.get("balanceAfter"))
            for d in result.get("rows", [])]
    return Page(object_list=rows, number=page, per_page=per_page, count=count)


def _aware(value):
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, UTC)
