"""A referred user's qualifying purchase: convert the referral, award both, once.

Which purchase qualifies is the purchases app's decision (it calls down with
the purchase's id, see purchases.services); this module owns what follows.
Exactly-once comes from the database, not from Python checks:
* the conversion is one conditional update (status pending -> converted);
  only the caller that changed the document goes on to notify;
* each award is a ledger entry under a unique idempotency key
  (``referral_reward_key``), so a retry or a repair run after a crash
  between the steps never awards twice.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bson import ObjectId
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.utils import timezone
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from credits.models import Kind
from credits.rules import credits_value
from credits.services import AppliedGrant, CreditGrant, credits_grant_many
from referral_site.db.collections import collection
from referral_site.transactions import run_atomically
from referrals.models import MonthlyRewardCount, NotRewarded, Referral, ReferralStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversion:
    referral_id: ObjectId
    referrer_id: ObjectId
    referred_user_id: ObjectId


def referral_reward_key(referral_id, user_id) -> str:
    """The ledger key of one side's reward for one referral (published for repairs)."""
    return f"referral-reward:{referral_id}:{user_id}"


def referral_reward_grants(
    *, conversion: Conversion, purchase_id: ObjectId | None
) -> list[CreditGrant]:
    """The credits a conversion earns: the one place that says who gets what."""
    grants = [
        CreditGrant(
            user_id=conversion.referrer_id,
            amount=settings.REFERRAL_REWARD_REFERRER,
            kind=Kind.REFERRAL_REWARD_REFERRER,
            idempotency_key=referral_reward_key(conversion.referral_id, conversion.referrer_id),
            reason="Your referral made a first purchase",
            referral_id=conversion.referral_id,
            purchase_id=purchase_id,
        ),
        CreditGrant(
            user_id=conversion.referred_user_id,
            amount=settings.REFERRAL_REWARD_REFERRED,
            kind=Kind.REFERRAL_REWARD_REFERRED,
            idempotency_key=referral_reward_key(
                conversion.referral_id, conversion.referred_user_id
            ),
            reason="Welcome reward for your first purchase",
            referral_id=conversion.referral_id,
            purchase_id=purchase_id,
        ),
    ]
    return [g for g in grants if g.amount > 0]


def _convert(*, referred_user_id: ObjectId) -> Conversion | None:
    """pending -> converted, in one conditional update; None if nothing was pending."""
    now = timezone.now()
    document = collection(Referral).find_one_and_update(
        {"referredUserId": referred_user_id, "status": ReferralStatus.PENDING},
        {
            "$set": {
                "status": ReferralStatus.CONVERTED,
                "convertedAt": now,
                "creditsAwarded": True,
                "updatedAt": now,
            }
        },
        projection={"referrerId": 1, "referredUserId": 1},
        return_document=ReturnDocument.AFTER,
        session=connection.session,
    )
    return _as_conversion(document)


def _converted(*, referred_user_id: ObjectId) -> Conversion | None:
    """The user's referral when an earlier attempt already converted it (to be rewarded)."""
    document = collection(Referral).find_one(
        {
            "referredUserId": referred_user_id,
            "status": ReferralStatus.CONVERTED,
            "notRewardedReason": {"$in": ["", None]},
        },
        projection={"referrerId": 1, "referredUserId": 1},
        session=connection.session,
    )
    return _as_conversion(document)


def _reward_slot(conversion: Conversion) -> bool:
    """Take one of the referrer's rewarded conversions for this month; False at the cap."""
    cap = settings.REFERRAL_MONTHLY_CAP
    if cap is None:
        return True
    if cap <= 0:
        return False
    key = f"{conversion.referrer_id}:{timezone.now():%Y-%m}"
    counts = collection(MonthlyRewardCount)

    def take() -> bool:
        return bool(
            counts.find_one_and_update({"key": key, "count": {"$lt": cap}}, {"$inc": {"count": 1}})
        )

    if take():
        return True
    try:
        counts.insert_one({"key": key, "count": 1})  # the month's first reward
        return True
    except DuplicateKeyError:
        return take()  # another conversion created it just now


def _withhold(conversion: Conversion, *, reason: str) -> None:
    collection(Referral).update_one(
        {"_id": conversion.referral_id},
        {
            "$set": {
                "creditsAwarded": False,
                "notRewardedReason": reason,
                "updatedAt": timezone.now(),
            }
        },
    )


def _as_conversion(document: dict | None) -> Conversion | None:
    if document is None:
        return None
    return Conversion(
        referral_id=document["_id"],
        referrer_id=document["referrerId"],
        referred_user_id=document["referredUserId"],
    )


def referral_award(
    *,
    conversion: Conversion,
    purchase_id: ObjectId | None,
    also: Callable[[], object] | None = None,
) -> list[AppliedGrant]:
    """Credit both users for a converted referral; safe to call again.

    ``also`` is the caller's own record of the award (the purchase's
    referralCreditAwarded), written in the same transaction where the
    deployment has them.
    """
    grants = referral_reward_grants(conversion=conversion, purchase_id=purchase_id)

    def award() -> list[AppliedGrant]:
        applied = credits_grant_many(grants=grants)
        if also is not None:
            also()
        return applied

    return run_atomically(award)


def referral_convert_for_purchase(
    *, referred_user_id: ObjectId, purchase_id: ObjectId, also: Callable[[], object] | None = None
) -> Conversion | None:
    """Convert the buyer's referral and award both users; None when there is none.

    Safe to repeat: a referral converted by an earlier, interrupted attempt is
    awarded again, which records only what is still missing. The referrer
    hears of it once, from the call that recorded their reward.
    """
    converted_now = _convert(referred_user_id=referred_user_id)
    conversion = converted_now or _converted(referred_user_id=referred_user_id)
    if conversion is None:
        return None
    if converted_now is not None and not _reward_slot(conversion):
        # Converted, but over the referrer's monthly cap: recorded, never rewarded.
        _withhold(conversion, reason=NotRewarded.MONTHLY_CAP)
        return None
    applied = referral_award(conversion=conversion, purchase_id=purchase_id, also=also)
    # After the data is stored, never before: the e-mail announces it.
    _notify_referrer(conversion=conversion, applied=applied)
    return conversion


def _notify_referrer(*, conversion: Conversion, applied: list[AppliedGrant]) -> None:
    by_user = {a.grant.user_id: a for a in applied}
    referrer = by_user.get(conversion.referrer_id)
    buyer = by_user.get(conversion.referred_user_id)
    if referrer is None or not referrer.user.get("email"):
        return
    buyer_name = buyer.user.get("name") if buyer else "Your friend"
    amount = referrer.grant.amount
    subject = f"{buyer_name} made a first purchase: you earned {amount} credits"
    body = (
        f"Hello {referrer.user.get('name', '')},\n\n{subject}.\n"
        f"Your balance is now {referrer.balance_after} credits, worth "
        f"${credits_value(referrer.balance_after)} at checkout.\n"
    )
    try:
        send_mail(subject, body, None, [referrer.user["email"]])
    except Exception as exc:  # noqa: BLE001 - mail trouble must not undo a stored award
        # The exception's text can hold the address (SMTPRecipientsRefused):
        # log its type only.
        logger.error(
            "referral award e-mail failed for referral %s: %s",
            conversion.referral_id,
            type(exc).__name__,
        )


def referral_close_unrewarded(*, referred_user_id: ObjectId, reason: str) -> bool:
    """The referred user's first purchase did not qualify: the referral ends unrewarded.

    One conditional update of a pending referral with no reason yet; the
    status stays pending (the schema's values), and since only a first
    purchase converts, it can never convert later. True for the caller that closed it.
    """
    closed = collection(Referral).update_one(
        {
            "referredUserId": referred_user_id,
            "status": ReferralStatus.PENDING,
            "notRewardedReason": {"$in": ["", None]},
        },
        {"$set": {"notRewardedReason": reason, "updatedAt": timezone.now()}},
        session=connection.session,
    )
    return bool(closed.modified_count)
