"""A referred user's qualifying purchase: convert the referral, award both, once.

Which purchase qualifies is the purchases app's decision (it calls down with
the purchase's id and the evidence only it can see, see purchases.services);
this module owns what follows. Exactly-once comes from the database, not from
Python checks:
* the conversion is one conditional update (status pending -> converted);
  only the caller that changed the document goes on to notify;
* a conversion with abuse signals is sent to review in that same update, so
  no crash can award it unreviewed; staff approve or reject it, once;
* each award is a ledger entry under a unique idempotency key
  (``referral_reward_key``), so a retry or a repair run after a crash
  between the steps never awards twice;
* with REFERRAL_HOLD_DAYS the rewards are held (credits.services), released
  by ``referral_release_due`` (``manage.py release_held_rewards``);
* a refund of the qualifying purchase within REFERRAL_CLAWBACK_DAYS reverses
  the referral (``referral_reverse``): a held reward is cancelled, a released
  one taken back up to the balance.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from bson import ObjectId
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.utils import timezone
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from accounts.models import User
from credits.models import CreditTransaction, Kind
from credits.rules import credits_value
from credits.services import AppliedGrant, CreditGrant, credits_grant_many, credits_take_back
from referral_site.db.collections import collection
from referral_site.exceptions import ApplicationError
from referral_site.transactions import run_atomically
from referrals.models import (
    MonthlyRewardCount,
    NotRewarded,
    Referral,
    ReferralStatus,
    Review,
    Signal,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversion:
    referral_id: ObjectId
    referrer_id: ObjectId
    referred_user_id: ObjectId
    held_until: datetime | None = None  # REFERRAL_HOLD_DAYS: rewards spendable from then
    signals: tuple[str, ...] = field(default=())


def referral_reward_key(referral_id, user_id) -> str:
    """The ledger key of one side's reward for one referral (published for repairs)."""
    return f"referral-reward:{referral_id}:{user_id}"


def referral_hold_end_key(referral_id, user_id) -> str:
    """The key shared by a held reward's release and its cancellation: one of them, once."""
    return f"referral-hold-end:{referral_id}:{user_id}"


def referral_clawback_key(referral_id, user_id) -> str:
    """The key of taking back a released (spendable) reward after a refund."""
    return f"referral-clawback:{referral_id}:{user_id}"


def reward_held_until(now: datetime) -> datetime | None:
    """When rewards earned ``now`` become spendable; None without a hold."""
    days = settings.REFERRAL_HOLD_DAYS
    return now + timedelta(days=days) if days > 0 else None


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
            referred_user_id=conversion.referred_user_id,
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
            referred_user_id=conversion.referred_user_id,
        ),
    ]
    grants = [g for g in grants if g.amount > 0]
    if conversion.held_until is not None:
        grants = [g.held_back(until=conversion.held_until) for g in grants]
    return grants


# --- Signals ---------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """An abuse signal only the caller can see: ``signal`` when any document of
    ``model``'s collection matches ``match`` (an indexed lookup).

    Read in the same command as this app's own signal (see ``_signals``), so
    the caller's check costs no command of its own.
    """

    signal: str
    model: type
    match: dict


class _Check(NamedTuple):
    signal: str
    model: type
    match: dict
    enough: int  # matching documents that raise the signal


def _signals(referrer_id: ObjectId, now: datetime, evidence: tuple[Evidence, ...]) -> set[str]:
    """The conversion's signals: the caller's evidence, and the referrer's
    conversions in the last 24 hours reaching REFERRAL_VELOCITY_LIMIT.

    One aggregate for all of them: each check is a branch (the first on its
    own collection, the others appended by ``$unionWith``) that matches with
    an index, stops at the documents it needs and answers its number; the
    signals are counted here. No command when there is nothing to check.
    """
    limit = settings.REFERRAL_VELOCITY_LIMIT
    signals = set()
    checks = []
    if limit is not None and limit <= 0:
        signals.add(Signal.VELOCITY.value)  # any count reaches it
    elif limit is not None:
        recent = {"referrerId": referrer_id, "convertedAt": {"$gte": now - timedelta(hours=24)}}
        checks.append(_Check(Signal.VELOCITY.value, Referral, recent, limit))
    checks.extend(_Check(e.signal, e.model, e.match, 1) for e in evidence)
    if not checks:
        return signals
    branches = [
        [{"$match": c.match}, {"$limit": c.enough}, {"$project": {"_id": 0, "n": {"$literal": n}}}]
        for n, c in enumerate(checks)
    ]
    pipeline = branches[0] + [
        {"$unionWith": {"coll": c.model._meta.db_table, "pipeline": branch}}
        for c, branch in zip(checks[1:], branches[1:], strict=True)
    ]
    answers = collection(checks[0].model).aggregate(pipeline, session=connection.session)
    found = Counter(answer["n"] for answer in answers)
    signals.update(c.signal for n, c in enumerate(checks) if found[n] >= c.enough)
    return signals


# --- Conversion ------------------------------------------------------------------


_OWES_NOTHING_YET = {"notRewardedReason": {"$in": ["", None]}}


# A converted referral whose rewards are owed: not closed unrewarded, not
# waiting for or refused by review, not reversed by a refund.
REWARD_OWED = {
    **_OWES_NOTHING_YET,
    "review": {"$in": ["", None, Review.APPROVED]},
    "reversedAt": None,
}


def _convert(*, referred_user_id: ObjectId, flags: set[str], now: datetime) -> Conversion | None:
    """pending -> converted in one conditional update; None if nothing was pending.

    Without signals of the purchase's, the first update matches only a
    referral that brought none from its sign-up either; the second (one more
    command, only for those) converts it into the review queue.
    """
    referrals = collection(Referral)
    pending = {"referredUserId": referred_user_id, "status": ReferralStatus.PENDING}
    converted = {"status": ReferralStatus.CONVERTED, "convertedAt": now, "updatedAt": now}
    held_until = reward_held_until(now)
    projection = {"referrerId": 1, "referredUserId": 1, "signals": 1, "rewardHeldUntil": 1}
    if not flags:
        document = referrals.find_one_and_update(
            {**pending, **_OWES_NOTHING_YET, "signals.0": {"$exists": False}},
            {"$set": {**converted, "creditsAwarded": True, "rewardHeldUntil": held_until}},
            projection=projection,
            return_document=ReturnDocument.AFTER,
            session=connection.session,
        )
        if document is not None:
            return _as_conversion(document)
    document = referrals.find_one_and_update(
        {**pending, **_OWES_NOTHING_YET},
        {
            "$set": {**converted, "creditsAwarded": False, "review": Review.WAITING},
            "$addToSet": {"signals": {"$each": sorted(flags)}},
        },
        projection=projection,
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
            **REWARD_OWED,
        },
        projection={"referrerId": 1, "referredUserId": 1, "rewardHeldUntil": 1},
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
                "rewardHeldUntil": None,
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
        held_until=document.get("rewardHeldUntil"),
        signals=tuple(document.get("signals") or ()),
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


def _reward(
    conversion: Conversion, *, fresh: bool, purchase_id, also: Callable[[], object] | None
) -> bool:
    """Award a conversion (``fresh``: decided just now, so it takes a slot of the cap)."""
    if fresh and not _reward_slot(conversion):
        # Converted, but over the referrer's monthly cap: recorded, never rewarded.
        _withhold(conversion, reason=NotRewarded.MONTHLY_CAP)
        return False
    applied = referral_award(conversion=conversion, purchase_id=purchase_id, also=also)
    # After the data is stored, never before: the e-mail announces it.
    _notify_referrer(conversion=conversion, applied=applied)
    return True


def referral_convert_for_purchase(
    *,
    referred_user_id: ObjectId,
    referrer_id: ObjectId,
    purchase_id: ObjectId,
    evidence: tuple[Evidence, ...] = (),
    also: Callable[[], object] | None = None,
) -> Conversion | None:
    """Convert the buyer's referral and award both users; None when nothing is awarded.

    ``evidence`` is the purchase's own (the card, from the purchases app),
    checked in the command that checks the referrer's velocity; with any
    signal, or any from the sign-up, the conversion waits for review.
    Safe to repeat: a referral converted by an earlier, interrupted attempt is
    awarded again, which records only what is still missing. The referrer
    hears of it once, from the call that recorded their reward.
    """
    now = timezone.now()
    flags = _signals(referrer_id, now, evidence)
    converted_now = _convert(referred_user_id=referred_user_id, flags=flags, now=now)
    if converted_now is not None and converted_now.signals:
        return None  # in the review queue
    conversion = converted_now or _converted(referred_user_id=referred_user_id)
    if conversion is None:
        return None
    rewarded = _reward(
        conversion, fresh=converted_now is not None, purchase_id=purchase_id, also=also
    )
    return conversion if rewarded else None


# --- Review ------------------------------------------------------------------------


def referral_review_approve(
    *,
    referral_id: ObjectId,
    staff: User,
    purchase_id: ObjectId | None,
    also: Callable[[], object] | None = None,
) -> bool:
    """Staff approve a conversion waiting for review: it is rewarded, exactly once.

    One conditional update (waiting -> approved) decides which approval counts;
    the award after it is keyed like any other, and reconcile_credits finishes
    it after a crash. False when it was not waiting (decided before, reversed).
    """
    now = timezone.now()
    document = collection(Referral).find_one_and_update(
        {"_id": referral_id, "review": Review.WAITING, "reversedAt": None},
        {
            "$set": {
                "review": Review.APPROVED,
                "reviewedBy": staff.pk,
                "reviewedAt": now,
                "creditsAwarded": True,
                "rewardHeldUntil": reward_held_until(now),
                "updatedAt": now,
            }
        },
        projection={"referrerId": 1, "referredUserId": 1, "rewardHeldUntil": 1},
        return_document=ReturnDocument.AFTER,
    )
    conversion = _as_conversion(document)
    if conversion is None:
        return False
    _reward(conversion, fresh=True, purchase_id=purchase_id, also=also)
    return True


def referral_review_reject(*, referral_id: ObjectId, staff: User, note: str) -> bool:
    """Staff reject a conversion waiting for review: never rewarded, never converts again."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError("Say why the referral is rejected.", field="note")
    now = timezone.now()
    rejected = collection(Referral).update_one(
        {"_id": referral_id, "review": Review.WAITING},
        {
            "$set": {
                "review": Review.REJECTED,
                "reviewedBy": staff.pk,
                "reviewedAt": now,
                "reviewNote": note[:500],
                "notRewardedReason": NotRewarded.REJECTED,
                "updatedAt": now,
            }
        },
    )
    return bool(rejected.modified_count)


# --- Hold and release ----------------------------------------------------------------


def _reward_entries(conversions: list[Conversion]) -> dict[str, dict]:
    """The reward entries these conversions have in the ledger, by key (one command)."""
    keys = [
        g.idempotency_key
        for c in conversions
        for g in referral_reward_grants(conversion=c, purchase_id=None)
    ]
    if not keys:
        return {}
    return {
        e["idempotencyKey"]: e
        for e in collection(CreditTransaction).find(
            {"idempotencyKey": {"$in": keys}},
            {"idempotencyKey": 1, "userId": 1, "amount": 1, "heldAmount": 1, "purchaseId": 1},
        )
    }


RELEASE_BATCH = 200


def referral_release_due(*, now: datetime | None = None) -> int:
    """Make held rewards whose date has come spendable; the number of referrals released.

    Safe to run often and concurrently: each release is a ledger entry under
    the hold's end key, so of two runs (or a run and a refund's cancellation)
    exactly one ends each hold. A referral is marked released only once all
    its rewards are in the ledger; one awarded later is released next time.
    """
    now = now or timezone.now()
    released = 0
    referrals = collection(Referral)
    due = {"rewardHeldUntil": {"$lte": now}, "rewardReleasedAt": None, "reversedAt": None}
    after = None
    while True:
        query = {**due, **({"_id": {"$gt": after}} if after else {})}
        batch = [
            _as_conversion(d)
            for d in referrals.find(
                query, {"referrerId": 1, "referredUserId": 1, "rewardHeldUntil": 1}
            )
            .sort("_id", 1)
            .limit(RELEASE_BATCH)
        ]
        if not batch:
            return released
        after = batch[-1].referral_id
        entries = _reward_entries(batch)
        for conversion in batch:
            if _release(conversion, entries, now=now):
                released += 1


def _release(conversion: Conversion, entries: dict[str, dict], *, now: datetime) -> bool:
    expected = referral_reward_grants(conversion=conversion, purchase_id=None)
    recorded = [entries.get(g.idempotency_key) for g in expected]
    if not all(recorded):
        return False  # an award still unfinished (reconcile_credits finishes it)
    credits_grant_many(
        grants=[
            CreditGrant(
                user_id=entry["userId"],
                amount=entry["heldAmount"],
                held=-entry["heldAmount"],
                kind=Kind.REWARD_RELEASE,
                idempotency_key=referral_hold_end_key(conversion.referral_id, entry["userId"]),
                reason="Referral reward released: now spendable",
                referral_id=conversion.referral_id,
                purchase_id=entry.get("purchaseId"),
                referred_user_id=conversion.referred_user_id,
            )
            for entry in recorded
            if entry.get("heldAmount", 0) > 0
        ]
    )
    marked = collection(Referral).update_one(
        {"_id": conversion.referral_id, "rewardReleasedAt": None},
        {"$set": {"rewardReleasedAt": now, "updatedAt": now}},
    )
    return bool(marked.modified_count)


# --- Reversal after a refund ----------------------------------------------------------


def referral_reverse(*, referred_user_id: ObjectId, purchase_id: ObjectId | None) -> bool:
    """The qualifying first purchase was refunded: reverse its referral's rewards.

    Only a conversion within REFERRAL_CLAWBACK_DAYS is reversed. First the
    referral records the reversal (one conditional update: it can never
    convert or be approved again), then each side's reward is taken back,
    keyed, so a retry or reconcile_credits finishes an interrupted reversal.
    True for the call that reversed it.
    """
    now = timezone.now()
    window = timedelta(days=settings.REFERRAL_CLAWBACK_DAYS)
    document = collection(Referral).find_one_and_update(
        {
            "referredUserId": referred_user_id,
            "status": ReferralStatus.CONVERTED,
            "convertedAt": {"$gte": now - window},
            "reversedAt": None,
        },
        {"$set": {"reversedAt": now, "updatedAt": now}},
        projection={"referrerId": 1, "referredUserId": 1, "rewardHeldUntil": 1},
        return_document=ReturnDocument.AFTER,
    )
    conversion = _as_conversion(document)
    if conversion is None:
        return False
    referral_take_back(conversion, purchase_id=purchase_id)
    return True


def referral_take_back(conversion: Conversion, *, purchase_id: ObjectId | None) -> None:
    """Take back whatever a reversed referral awarded; safe to repeat."""
    entries = _reward_entries([conversion])
    for grant in referral_reward_grants(conversion=conversion, purchase_id=None):
        entry = entries.get(grant.idempotency_key)
        if entry is None:
            continue  # never awarded
        user_id = entry["userId"]
        spendable = entry.get("amount", 0)
        held = entry.get("heldAmount", 0)
        if held > 0:
            cancel = CreditGrant(
                user_id=user_id,
                amount=0,
                held=-held,
                kind=Kind.CLAWBACK,
                idempotency_key=referral_hold_end_key(conversion.referral_id, user_id),
                reason="Referral reward cancelled: the purchase was refunded",
                referral_id=conversion.referral_id,
                purchase_id=purchase_id,
                referred_user_id=conversion.referred_user_id,
            )
            if credits_grant_many(grants=[cancel]) or _hold_cancelled(conversion, user_id):
                continue
            spendable = held  # released before the refund: take it back from the balance
        if spendable > 0:
            credits_take_back(
                user_id=user_id,
                amount=spendable,
                idempotency_key=referral_clawback_key(conversion.referral_id, user_id),
                reason="Referral reward reversed: the purchase was refunded",
                referral_id=conversion.referral_id,
                purchase_id=purchase_id,
                referred_user_id=conversion.referred_user_id,
            )


def _hold_cancelled(conversion: Conversion, user_id: ObjectId) -> bool:
    end = collection(CreditTransaction).find_one(
        {"idempotencyKey": referral_hold_end_key(conversion.referral_id, user_id)}, {"kind": 1}
    )
    return bool(end) and end["kind"] == Kind.CLAWBACK


def _notify_referrer(*, conversion: Conversion, applied: list[AppliedGrant]) -> None:
    by_user = {a.grant.user_id: a for a in applied}
    referrer = by_user.get(conversion.referrer_id)
    buyer = by_user.get(conversion.referred_user_id)
    if referrer is None or not referrer.user.get("email"):
        return
    buyer_name = buyer.user.get("name") if buyer else "Your friend"
    grant = referrer.grant
    amount = grant.amount + grant.held
    subject = f"{buyer_name} made a first purchase: you earned {amount} credits"
    if grant.held_until is not None:
        when = f"{grant.held_until:%B} {grant.held_until.day}, {grant.held_until.year}"
        balance = f"They become spendable on {when}, after the refund period.\n"
    else:
        balance = (
            f"Your balance is now {referrer.balance_after} credits, worth "
            f"${credits_value(referrer.balance_after)} at checkout.\n"
        )
    body = f"Hello {referrer.user.get('name', '')},\n\n{subject}.\n{balance}"
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
