"""The ledger's own repair: cached balances brought back to the ledger's sums.

Run last by ``manage.py reconcile_credits``, after the other apps' repairs
have written whatever ledger entries they owed. A grant writes its ledger
entry before the balance and a spend its balance before the entry
(credits.services), so a cache can only lag behind the ledger; a user with
either moving right now looks drifted and is left for the next run.
"""

from dataclasses import dataclass

from django.utils import timezone

from accounts.models import User
from credits.models import EARNING_KINDS, CreditTransaction
from referral_site.batching import filter_in
from referral_site.db.collections import collection
from referral_site.repair import RepairRun


@dataclass
class BalanceDrift:
    user_id: object
    cached_credits: int
    ledger_credits: int
    cached_earned: int
    ledger_earned: int
    cached_held: int = 0
    ledger_held: int = 0

    def __str__(self) -> str:
        return (
            f"{self.user_id} credits {self.cached_credits}->{self.ledger_credits} "
            f"earned {self.cached_earned}->{self.ledger_earned} "
            f"held {self.cached_held}->{self.ledger_held}"
        )


def ledger_keys_present(keys: list[str]) -> set[str]:
    """Which of these idempotency keys the ledger holds: one query per batch of keys."""
    return set(
        filter_in(
            CreditTransaction.objects.values_list("idempotency_key", flat=True),
            "idempotency_key",
            keys,
        )
    )


def _ledger_sums(match: dict | None = None) -> dict:
    pipeline = [
        *([{"$match": match}] if match else []),
        {
            "$group": {
                "_id": "$userId",
                "credits": {"$sum": "$amount"},
                "held": {"$sum": {"$ifNull": ["$heldAmount", 0]}},
                "earned": {
                    "$sum": {
                        "$cond": [
                            {
                                "$and": [
                                    {"$gt": ["$amount", 0]},
                                    {"$in": ["$kind", [str(k) for k in EARNING_KINDS]]},
                                ]
                            },
                            "$amount",
                            0,
                        ]
                    }
                },
            }
        },
    ]
    return {
        row["_id"]: (row["credits"], row["earned"], row["held"])
        for row in collection(CreditTransaction).aggregate(pipeline)
    }


def balances_reconcile(run: RepairRun) -> None:
    """Users whose cached credits differ from the ledger; with ``run.fix``, repaired."""
    found = run.finding("users whose cached credits differ from the ledger or are negative")
    sums = _ledger_sums()
    moving = set(
        CreditTransaction.objects.filter(created_at__gt=run.cutoff).values_list(
            "user_id", flat=True
        )
    )
    users = User.objects.values_list(
        "pk", "credits", "total_credits_earned", "held_credits", "updated_at"
    )
    for user_id, credits, earned, held, updated_at in users.iterator():
        held = held or 0
        ledger_credits, ledger_earned, ledger_held = sums.get(user_id, (0, 0, 0))
        # A balance below zero is drift even when the ledger agrees: no
        # sequence of the services' steps can make one.
        cached = (credits, earned, held)
        if cached == (ledger_credits, ledger_earned, ledger_held) and credits >= 0 and held >= 0:
            continue
        if user_id in run.busy_users or user_id in moving or updated_at > run.cutoff:
            continue
        drift = BalanceDrift(
            user_id=user_id,
            cached_credits=credits,
            ledger_credits=ledger_credits,
            cached_earned=earned,
            ledger_earned=ledger_earned,
            cached_held=held,
            ledger_held=ledger_held,
        )
        found.items.append(drift)
        if not run.fix:
            continue
        # Sum this user's ledger again now, then compare-and-set on what we
        # read: if anything moved since, a step is running; leave it.
        drift.ledger_credits, drift.ledger_earned, drift.ledger_held = _ledger_sums(
            {"userId": user_id}
        ).get(user_id, (0, 0, 0))
        fixed = (
            drift.ledger_credits >= 0
            and drift.ledger_held >= 0
            and User.objects.filter(
                pk=user_id, credits=credits, total_credits_earned=earned, updated_at=updated_at
            ).update(
                credits=drift.ledger_credits,
                total_credits_earned=drift.ledger_earned,
                held_credits=drift.ledger_held,
                updated_at=timezone.now(),
            )
        )
        if not fixed:
            found.unfixed.append(drift)
