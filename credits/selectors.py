"""Reads of the ledger."""

from dataclasses import dataclass
from datetime import datetime

from credits.models import CreditTransaction, Kind
from referral_site.db.collections import collection
from referral_site.formats import day_label, table_datetime
from referral_site.paging import Page, aware, facet_page

STATEMENT_PER_PAGE = 10


@dataclass(frozen=True)
class StatementRow:
    date: datetime
    description: str
    amount: int
    balance_after: int | None
    held: int = 0  # change of held credits (REFERRAL_HOLD_DAYS)
    held_until: datetime | None = None
    kind: str = ""
    referral_id: object = None
    referred_user_id: object = None  # a referral entry's referred friend
    date_label: str = ""  # the date as the statement shows it (UTC)

    @property
    def change(self) -> str:
        """The movement as shown: spendable credits, or held ones and until when."""
        if self.amount or not self.held:
            return f"{self.amount:+d}" if self.amount else "0"
        if self.held > 0 and self.held_until is not None:
            return f"{self.held:+d} held until {day_label(self.held_until)}"
        return f"{self.held:+d} held"


def credit_statement(*, user_id, page: int = 1, per_page: int = STATEMENT_PER_PAGE) -> Page:
    """One page of the user's credit ledger, newest first: one aggregation.

    A page beyond the last is answered with the last page.
    """
    result = facet_page(
        collection(CreditTransaction),
        match={"userId": user_id},
        sort={"createdAt": -1, "_id": -1},
        page=page,
        per_page=per_page,
    )
    labels = dict(Kind.choices)
    rows = [
        StatementRow(
            date=aware(d["createdAt"]),
            date_label=table_datetime(d["createdAt"]),
            description=d.get("reason") or labels.get(d["kind"], d["kind"]),
            amount=d["amount"],
            balance_after=d.get("balanceAfter"),
            held=d.get("heldAmount") or 0,
            held_until=aware(d.get("heldUntil")),
            kind=d["kind"],
            referral_id=d.get("referralId"),
            referred_user_id=d.get("referredUserId"),
        )
        for d in result.rows
    ]
    return Page(object_list=rows, number=result.number, per_page=per_page, count=result.count)
