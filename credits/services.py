"""Writes to the credit ledger and to the balance caches on users.

The ledger (creditTransactions) is the truth; ``users.credits`` and
``users.totalCreditsEarned`` are caches of it. No multi-document transaction
is needed for correctness because every step is one atomic single-document
write, in an order chosen so that a crash between two steps can only leave a
cache showing *fewer* credits than the ledger:

* credits in (rewards, refunds, positive adjustments): the ledger entry first
  (its unique idempotency key makes the change exactly-once), then ``$inc`` on
  the user;
* credits out (spends, negative adjustments, clawbacks): the guarded
  decrement first (``credits >= n`` in the filter is the lock that keeps a
  balance from going below zero), then the ledger entry.

Held credits (a referral reward under REFERRAL_HOLD_DAYS) are a second column
of the same ledger, ``heldAmount``, cached in ``users.heldCredits``: a held
reward is an entry of +n held; its release (+n credits, -n held) or its
cancellation (-n held) is one more entry, and both share one idempotency key
(``hold_end_key``), so a release racing a cancellation ends the hold once.

So ``reconcile_credits`` only ever raises a cache to its ledger sum, and can
never push a balance below zero. Where the deployment supports transactions
the steps also run inside one (referral_site.transactions).
"""

from dataclasses import dataclass, replace
from datetime import datetime

from bson import ObjectId
from django.db import connection
from django.utils import timezone
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from accounts.models import User
from credits.models import EARNING_KINDS, CreditTransaction, Kind
from referral_site.db.collections import collection
from referral_site.exceptions import ApplicationError
from referral_site.transactions import run_atomically

DUPLICATE_KEY = 11000
# The largest staff adjustment either way, in credits (and far inside 64 bits).
ADJUSTMENT_LIMIT = 100_000


class InsufficientCredits(ApplicationError):
    pass


@dataclass(frozen=True)
class CreditGrant:
    """One credit-in change to record exactly once."""

    user_id: ObjectId
    amount: int
    kind: str
    idempotency_key: str
    reason: str
    purchase_id: ObjectId | None = None
    referral_id: ObjectId | None = None
    actor_id: ObjectId | None = None
    held: int = 0  # signed change of held credits (see the module's docstring)
    referred_user_id: ObjectId | None = None  # a referral entry's referred friend
    held_until: datetime | None = None

    def held_back(self, *, until: datetime) -> "CreditGrant":
        """The same reward, recorded as held until ``until`` instead of spendable."""
        return replace(self, amount=0, held=self.amount + self.held, held_until=until)


@dataclass(frozen=True)
class AppliedGrant:
    grant: CreditGrant
    entry_id: ObjectId
    balance_after: int
    user: dict  # the user's document after the change (name, email, credits)


def _entry_document(
    *,
    user_id,
    amount,
    kind,
    idempotency_key,
    reason,
    purchase_id=None,
    referral_id=None,
    actor_id=None,
    balance_after=None,
    held=0,
    held_until=None,
    shortfall=0,
    referred_user_id=None,
) -> dict:
    return {
        "userId": user_id,
        "amount": int(amount),
        "heldAmount": int(held),
        "heldUntil": held_until,
        "shortfall": int(shortfall),
        "kind": str(kind),
        "purchaseId": purchase_id,
        "referralId": referral_id,
        "referredUserId": referred_user_id,
        "actorId": actor_id,
        "reason": reason,
        "balanceAfter": balance_after,
        "idempotencyKey": idempotency_key,
        "createdAt": timezone.now(),
    }


def credits_grant_many(*, grants: list[CreditGrant]) -> list[AppliedGrant]:
    """Record credit-in changes exactly once each; return those applied now.

    One ``insert_many`` for the ledger entries (unordered, so a key already
    recorded does not stop the others), then one ``$inc`` per user whose
    entry went in, then one ``bulk_write`` for the entries' balanceAfter.
    A grant whose key was already recorded is skipped: whoever recorded it
    owns its cache update, and reconcile_credits repairs a crash in between.
    """
    for grant in grants:
        if grant.amount < 0 or (grant.amount == 0 and grant.held == 0):
            raise ValueError("a credit grant must add credits or move held ones")
    if not grants:
        return []
    session = connection.session
    documents = [
        _entry_document(
            user_id=g.user_id,
            amount=g.amount,
            kind=g.kind,
            idempotency_key=g.idempotency_key,
            reason=g.reason,
            purchase_id=g.purchase_id,
            referral_id=g.referral_id,
            actor_id=g.actor_id,
            held=g.held,
            held_until=g.held_until,
            referred_user_id=g.referred_user_id,
        )
        for g in grants
    ]
    ledger = collection(CreditTransaction)
    duplicates: set[int] = set()
    try:
        ledger.insert_many(documents, ordered=False, session=session)
    except BulkWriteError as exc:
        for error in exc.details.get("writeErrors", []):
            if error.get("code") != DUPLICATE_KEY:
                raise
            duplicates.add(error["index"])

    users = collection(User)
    applied = []
    now = timezone.now()
    for index, (grant, document) in enumerate(zip(grants, documents, strict=True)):
        if index in duplicates:
            continue
        increment = {"credits": grant.amount}
        if grant.kind in EARNING_KINDS and grant.amount:
            increment["totalCreditsEarned"] = grant.amount
        if grant.held:
            increment["heldCredits"] = grant.held
        user = users.find_one_and_update(
            {"_id": grant.user_id},
            {"$inc": increment, "$set": {"updatedAt": now}},
            projection={"credits": 1, "heldCredits": 1, "name": 1, "email": 1},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        applied.append(
            AppliedGrant(
                grant=grant, entry_id=document["_id"], balance_after=user["credits"], user=user
            )
        )
    if applied:
        ledger.bulk_write(
            [
                UpdateOne({"_id": a.entry_id}, {"$set": {"balanceAfter": a.balance_after}})
                for a in applied
            ],
            ordered=False,
            session=session,
        )
    return applied


def credits_grant(
    *,
    user_id: ObjectId,
    amount: int,
    kind: str,
    idempotency_key: str,
    reason: str,
    purchase_id: ObjectId | None = None,
    referral_id: ObjectId | None = None,
    actor_id: ObjectId | None = None,
) -> AppliedGrant | None:
    """Add credits once per key; None when the key was already recorded."""
    grant = CreditGrant(
        user_id=user_id,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        reason=reason,
        purchase_id=purchase_id,
        referral_id=referral_id,
        actor_id=actor_id,
    )
    applied = run_atomically(lambda: credits_grant_many(grants=[grant]))
    return applied[0] if applied else None


def credits_spend(
    *,
    user_id: ObjectId,
    amount: int,
    kind: str = Kind.SPEND,
    idempotency_key: str,
    reason: str,
    purchase_id: ObjectId | None = None,
    actor_id: ObjectId | None = None,
) -> CreditTransaction:
    """Take ``amount`` credits, never below zero, and record it in the ledger.

    The filter ``credits >= amount`` makes the decrement conditional: of two
    concurrent spends that together exceed the balance, exactly one matches.
    Raises InsufficientCredits when the balance is too small. A key that was
    already recorded means this spend happened before: the decrement just made
    is given back and the existing entry is returned.
    """
    if amount <= 0:
        raise ValueError("a spend must be positive")
    return run_atomically(
        lambda: _spend(
            user_id=user_id,
            amount=amount,
            kind=kind,
            idempotency_key=idempotency_key,
            reason=reason,
            purchase_id=purchase_id,
            actor_id=actor_id,
        )
    )


def _spend(*, user_id, amount, kind, idempotency_key, reason, purchase_id, actor_id):
    """The two steps of a spend: the guarded decrement, then the ledger entry."""
    users = collection(User)
    session = connection.session
    user = users.find_one_and_update(
        {"_id": user_id, "credits": {"$gte": amount}},
        {"$inc": {"credits": -amount}, "$set": {"updatedAt": timezone.now()}},
        projection={"credits": 1},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if user is None:
        raise InsufficientCredits("You do not have enough credits for that.", field="credits")
    document = _entry_document(
        user_id=user_id,
        amount=-amount,
        kind=kind,
        idempotency_key=idempotency_key,
        reason=reason,
        purchase_id=purchase_id,
        actor_id=actor_id,
        balance_after=user["credits"],
    )
    try:
        collection(CreditTransaction).insert_one(document, session=session)
    except DuplicateKeyError:
        # Recorded by an earlier attempt: undo our second decrement.
        users.update_one({"_id": user_id}, {"$inc": {"credits": amount}}, session=session)
        return CreditTransaction.objects.get(idempotency_key=idempotency_key)
    return _as_model(document)


def _as_model(document: dict) -> CreditTransaction:
    return CreditTransaction(
        pk=document["_id"],
        user_id=document["userId"],
        amount=document["amount"],
        held_amount=document.get("heldAmount", 0),
        held_until=document.get("heldUntil"),
        shortfall=document.get("shortfall", 0),
        kind=document["kind"],
        purchase_id=document["purchaseId"],
        referral_id=document["referralId"],
        actor_id=document["actorId"],
        reason=document["reason"],
        balance_after=document["balanceAfter"],
        idempotency_key=document["idempotencyKey"],
        created_at=document["createdAt"],
    )


def credits_adjust(
    *, user: User, amount: int, reason: str, actor: User, idempotency_key: str
) -> CreditTransaction | None:
    """A staff adjustment, recorded with the staff member as actor and a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("A reason is required for a credit adjustment.", field="reason")
    if amount == 0:
        raise ApplicationError("The adjustment cannot be zero.", field="amount")
    if abs(amount) > ADJUSTMENT_LIMIT:
        raise ApplicationError(
            f"An adjustment is at most {ADJUSTMENT_LIMIT:,} credits either way.", field="amount"
        )
    if amount > 0:
        applied = credits_grant(
            user_id=user.pk,
            amount=amount,
            kind=Kind.ADJUSTMENT,
            idempotency_key=idempotency_key,
            reason=reason,
            actor_id=actor.pk,
        )
        return CreditTransaction.objects.get(pk=applied.entry_id) if applied else None
    try:
        return credits_spend(
            user_id=user.pk,
            amount=-amount,
            kind=Kind.ADJUSTMENT,
            idempotency_key=idempotency_key,
            reason=reason,
            actor_id=actor.pk,
        )
    except InsufficientCredits as exc:
        raise InsufficientCredits(
            f"The balance is {User.objects.get(pk=user.pk).credits}: it cannot go below zero.",
            field="amount",
        ) from exc


def credits_take_back(
    *,
    user_id: ObjectId,
    amount: int,
    kind: str = Kind.CLAWBACK,
    idempotency_key: str,
    reason: str,
    purchase_id: ObjectId | None = None,
    referral_id: ObjectId | None = None,
    referred_user_id: ObjectId | None = None,
) -> dict | None:
    """Take back up to ``amount`` spendable credits, never below zero; once per key.

    What the balance cannot cover is recorded on the entry as ``shortfall``
    (shown to staff) instead of a negative balance. Like a spend, the guarded
    decrement comes first, then the ledger entry; the decrement compares and
    sets on the balance it read, so a concurrent spend makes it read again.
    Returns the new entry's document, or None when the key was recorded before.
    """
    if amount <= 0:
        raise ValueError("a take-back must be positive")
    return run_atomically(
        lambda: _take_back(
            user_id=user_id,
            amount=amount,
            kind=kind,
            idempotency_key=idempotency_key,
            reason=reason,
            purchase_id=purchase_id,
            referral_id=referral_id,
            referred_user_id=referred_user_id,
        )
    )


def _take_back(
    *, user_id, amount, kind, idempotency_key, reason, purchase_id, referral_id, referred_user_id
):
    ledger = collection(CreditTransaction)
    session = connection.session
    if ledger.find_one({"idempotencyKey": idempotency_key}, {"_id": 1}, session=session):
        return None
    users = collection(User)
    for _attempt in range(20):
        user = users.find_one({"_id": user_id}, {"credits": 1}, session=session)
        if user is None:
            return None  # the account is gone: nothing to take
        balance = user.get("credits") or 0
        taken = max(0, min(balance, amount))
        if not taken:
            break
        moved = users.update_one(
            {"_id": user_id, "credits": balance},
            {"$inc": {"credits": -taken}, "$set": {"updatedAt": timezone.now()}},
            session=session,
        )
        if moved.modified_count:
            break
    else:
        raise ApplicationError("The balance kept changing; please try again.")
    document = _entry_document(
        user_id=user_id,
        amount=-taken,
        kind=kind,
        idempotency_key=idempotency_key,
        reason=reason,
        purchase_id=purchase_id,
        referral_id=referral_id,
        referred_user_id=referred_user_id,
        balance_after=balance - taken,
        shortfall=amount - taken,
    )
    try:
        ledger.insert_one(document, session=session)
    except DuplicateKeyError:
        # Recorded meanwhile by a concurrent attempt: give back what we took.
        if taken:
            users.update_one({"_id": user_id}, {"$inc": {"credits": taken}}, session=session)
        return None
    return document
