"""The credit ledger: collection creditTransactions (ARCHITECTURE.md section 4).

Append-only. One document per change of a user's credits, with the signed
amount, what it was for, who did it, and a unique idempotency key. The users'
``credits`` and ``totalCreditsEarned`` fields are caches of this collection.
"""

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    REFERRAL_REWARD_REFERRER = "referral_reward_referrer", "Referral reward (you referred)"
    REFERRAL_REWARD_REFERRED = "referral_reward_referred", "Referral reward (you were referred)"
    SPEND = "spend", "Spent at checkout"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Staff adjustment"
    # A held referral reward becoming spendable (REFERRAL_HOLD_DAYS).
    REWARD_RELEASE = "reward_release", "Referral reward released"
    # A referral reward taken back after the qualifying purchase was refunded.
    CLAWBACK = "referral_clawback", "Referral reward reversed (refund)"


# Kinds whose positive amounts count towards totalCreditsEarned.
# A held reward counts once it is released (its own entry's amount is 0).
EARNING_KINDS = (
    Kind.REFERRAL_REWARD_REFERRER,
    Kind.REFERRAL_REWARD_REFERRED,
    Kind.ADJUSTMENT,
    Kind.REWARD_RELEASE,
)


class CreditTransaction(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credit_transactions",
        db_column="userId",
    )
    # Signed, in credits: positive adds to the balance, negative spends.
    amount = models.IntegerField(db_column="amount")
    # Signed change of the user's held (not yet spendable) credits: + when a
    # reward is held, - when it is released or cancelled. users.heldCredits
    # caches its sum.
    held_amount = models.IntegerField(default=0, db_column="heldAmount")
    # A held reward's entry: when it becomes spendable.
    held_until = models.DateTimeField(null=True, blank=True, db_column="heldUntil")
    # A clawback's credits that could not be taken (the balance was too
    # small): shown to staff instead of a negative balance.
    shortfall = models.IntegerField(default=0, db_column="shortfall")
    kind = models.CharField(max_length=32, choices=Kind.choices, db_column="kind")
    purchase = models.ForeignKey(
        "purchases.Purchase",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_transactions",
        db_column="purchaseId",
        db_index=False,
    )
    referral = models.ForeignKey(
        "referrals.Referral",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_transactions",
        db_column="referralId",
        db_index=False,
    )
    # A referral entry's referred friend, on the referrer's entries and the
    # friend's own alike: the referrer's statement names the friend without
    # reading the referral (one read of users for the whole page).
    referred_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_column="referredUserId",
        db_index=False,
    )
    # The staff member for adjustments and refunds; null when the system acted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_column="actorId",
        db_index=False,
    )
    reason = models.CharField(max_length=500, db_column="reason")
    # The user's balance right after this change, as the atomic update returned it.
    balance_after = models.IntegerField(null=True, blank=True, db_column="balanceAfter")
    # The unique index on this key, not a lookup, makes each change exactly-once.
    idempotency_key = models.CharField(max_length=200, unique=True, db_column="idempotencyKey")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")

    class Meta:
        db_table = "creditTransactions"
        ordering = ["-created_at"]
        indexes = [
            # The statement: newest first, ties in _id order, a page at a time. The
            # index holds every key of the sort, so MongoDB reads the page from it.
            models.Index(fields=["user", "-created_at", "-id"], name="credit_tx_user_created"),
        ]

    def __str__(self):
        return f"{self.amount:+d} {self.kind} ({self.idempotency_key})"
