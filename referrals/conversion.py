"""A referred user's first completed purchase: convert the referral, award both, once.

Exactly-once comes from the database, not from Python checks:
* the conversion is one conditional update (status pending -> converted);
  only the caller that changed the document goes on to award;
* each award is a ledger entry under a unique idempotency key
  (``referral-reward:<referralId>:<userId>``), so a retry or a repair run
  after a crash between the steps never awards twice.
"""

import logging
from dataclasses import dataclass

from bson import ObjectId
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.utils import timezone
from pymongo import ReturnDocument

from credits.models import Kind
from credits.services import AppliedGrant, CreditGrant, credits_grant_many
from purchases.models import Purchase
from referral_site.transactions import run_atomically
from referrals.models import Referral, ReferralStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversion:
    referral_id: ObjectId
    referrer_id: ObjectId
    referred_user_id: ObjectId


def reward_key(referral_id, user_id) -> str:
    return f"referral-reward:{referral_id}:{user_id}"


def referral_convert(*, referred_user_id: ObjectId) -> Conversion | None:
    """pending -> converted, in one conditional update; None if nothing was pending."""
    now = timezone.now()
    document = connection.get_collection(Referral._meta.db_table).find_one_and_update(
        {"referredUserId": referred_user_id, "status": ReferralStatus.PENDING},
        {"$set": {"status": ReferralStatus.CONVERTED, "convertedAt": now,
                  "creditsAwarded": True, "updatedAt": now}},
        projection={"referrerId": 1, "referredUserId": 1},
        return_document=ReturnDocument.AFTER,
        session=connection.session,
    )
    if document is None:
        return None
    return Conversion(referral_id=document["_id"], referrer_id=document["referrerId"],
                      referred_user_id=document["referredUserId"])


def referral_award(*, conversion: Conversion, purchase_id: ObjectId | None) -> list[AppliedGrant]:
    """Credit both users for a converted referral; safe to call again."""
    grants = [
        CreditGrant(user_id=conversion.referrer_id, amount=settings.REFERRAL_REWARD_REFERRER,
                    kind=Kind.REFERRAL_REWARD_REFERRER,
                    idempotency_key=reward_key(conversion.referral_id, conversion.referrer_id),
                    reason="Your referral made a first purchase",
                    referral_id=conversion.referral_id, purchase_id=purchase_id),
        CreditGrant(user_id=conversion.referred_user_id,
                    amount=settings.REFERRAL_REWARD_REFERRED,
                    kind=Kind.REFERRAL_REWARD_REFERRED,
                    idempotency_key=reward_key(conversion.referral_id,
                                               conversion.referred_user_id),
                    reason="Welcome reward for your first purchase",
                    referral_id=conversion.referral_id, purchase_id=purchase_id),
    ]
    grants = [g for g in grants if g.amount > 0]

    def award() -> list[AppliedGrant]:
        applied = credits_grant_many(grants=grants)
        if purchase_id is not None:
            Purchase.objects.filter(pk=purchase_id, referral_credit_awarded=False).update(
                referral_credit_awarded=True, updated_at=timezone.now())
        return applied

    return run_atomically(award)


def referral_convert_for_first_purchase(*, purchase_id: ObjectId,
                                        buyer_id: ObjectId) -> list[AppliedGrant]:
    """Convert and award for the buyer's first completed purchase, if referred."""
    conversion = referral_convert(referred_user_id=buyer_id)
    if conversion is None:
        return []
    applied = referral_award(conversion=conversion, purchase_id=purchase_id)
    # After the data is stored, never before: the e-mail announces it.
    _notify_referrer(conversion=conversion, applied=applied)
    return applied


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
        f"${(settings.CREDIT_VALUE * referrer.balance_after):.2f} at checkout.\n"
    )
    try:
        send_mail(subject, body, None, [referrer.user["email"]])
    except Exception as exc:  # noqa: BLE001 - mail trouble must not undo a stored award
        # The exception's text can hold the address (SMTPRecipientsRefused):
        # log its type only.
        logger.error("referral award e-mail failed for referral %s: %s",
                     conversion.referral_id, type(exc).__name__)
