"""The purchases collection (schema.md section 3)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from referral_site.validators import non_negative


def _money(label: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"), message=f"{label} cannot be negative.")],
        **kwargs,
    )


class PurchaseStatus(models.TextChoices):
    # The purchase records its progress so an interrupted one can be completed
    # or rolled back (purchases.services.purchase_resume).
    PENDING = "pending", "Pending"  # recorded; no money has moved
    CREDITS_RESERVED = "credits_reserved", "Credits reserved"  # credits spent, card not charged
    PAID = "paid", "Paid"  # fully paid; completion (first purchase, awards) to do
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"  # declined or interrupted; spent credits returned
    REFUNDED = "refunded", "Refunded"


IN_FLIGHT_STATUSES = (PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED, PurchaseStatus.PAID)


class PurchaseRecord(models.Model):
    """The fields of a purchase, shared by the live collection and its archive."""

    # Denormalised so that history and receipts never join products.
    product_name = models.CharField(max_length=200, db_column="productName")
    amount = _money("Amount", db_column="amount")
    credits_used = models.IntegerField(
        default=0, validators=[non_negative("Credits used")], db_column="creditsUsed"
    )
    credit_amount = _money("Credit amount", default=Decimal("0.00"), db_column="creditAmount")
    cash_amount = _money("Cash amount", default=Decimal("0.00"), db_column="cashAmount")
    payment_method_id = models.CharField(max_length=255, blank=True, db_column="paymentMethodId")
    is_first_purchase = models.BooleanField(default=False, db_column="isFirstPurchase")
    referral_credit_awarded = models.BooleanField(default=False, db_column="referralCreditAwarded")
    status = models.CharField(
        max_length=20,
        choices=PurchaseStatus.choices,
        default=PurchaseStatus.PENDING,
        db_column="status",
    )
    # "<userId>:<checkout token>": one purchase per checkout intent, enforced by
    # the unique index (null for purchases made outside checkout).
    idempotency_key = models.CharField(
        max_length=100, unique=True, null=True, blank=True, db_column="idempotencyKey"
    )
    payment_intent_id = models.CharField(max_length=255, blank=True, db_column="paymentIntentId")
    failure_reason = models.CharField(max_length=255, blank=True, db_column="failureReason")
    # The card's fingerprint and last four digits, from the payment: the
    # fingerprint is compared with the referrer's cards (a referral signal).
    card_fingerprint = models.CharField(max_length=64, blank=True, db_column="cardFingerprint")
    card_last4 = models.CharField(max_length=4, blank=True, db_column="cardLast4")
    refunded_at = models.DateTimeField(null=True, blank=True, db_column="refundedAt")
    # The customer disputed the card payment with their bank: staff look into it.
    disputed_at = models.DateTimeField(null=True, blank=True, db_column="disputedAt")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.product_name} ({self.amount})"

    @property
    def order_number(self) -> str:
        """The short number customers quote: the id's last 8 hex digits (its counter part)."""
        return str(self.pk)[-8:].upper()


class Purchase(PurchaseRecord):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="purchases",
        db_column="userId",
    )
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        related_name="purchases",
        db_column="productId",
    )

    class Meta:
        db_table = "purchases"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="purchases_created_desc"),
            models.Index(fields=["is_first_purchase"], name="purchases_is_first"),
            models.Index(fields=["status", "updated_at"], name="purchases_status_updated"),
            models.Index(fields=["user", "card_fingerprint"], name="purchases_user_card"),
        ]
        constraints = [
            # At most one first purchase per user: the database, not a count
            # before the insert, decides which of two racing purchases is first.
            models.UniqueConstraint(
                fields=["user", "is_first_purchase"],
                condition=Q(is_first_purchase=True),
                name="purchases_one_first_per_user",
            ),
        ]


class ArchivedPurchase(PurchaseRecord):
    """A purchase moved out of ``purchases`` by ``archive_purchases`` (same _id, same fields).

    Read-only to the site: history, receipts, the library, analytics, the GDPR
    export and the CSV export read both collections. Only terminal purchases
    (completed, failed, refunded) are ever archived, so nothing in flight lives here.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_column="userId",
        db_index=False,
    )
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        related_name="+",
        db_column="productId",
        db_index=False,
    )

    class Meta:
        db_table = "purchasesArchive"
        ordering = ["-created_at"]
        indexes = [
            # A customer's history and library, newest first.
            models.Index(fields=["user", "-created_at"], name="archive_user_created"),
            # Analytics and exports by date.
            models.Index(fields=["-created_at"], name="archive_created_desc"),
        ]


class PaymentEvent(models.Model):
    """A payment provider's webhook event, recorded once (unique eventId)."""

    event_id = models.CharField(max_length=255, unique=True, db_column="eventId")
    type = models.CharField(max_length=100, db_column="type")
    purchase = models.ForeignKey(
        Purchase,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment_events",
        db_column="purchaseId",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")

    class Meta:
        db_table = "paymentEvents"

    def __str__(self):
        return f"{self.type} {self.event_id}"


class Download(models.Model):
    """One download of a product's file by its buyer (staff see them on the activity page)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="downloads",
        db_column="userId",
    )
    purchase = models.ForeignKey(
        Purchase,
        on_delete=models.PROTECT,
        related_name="downloads",
        db_column="purchaseId",
        db_index=False,
    )
    product_name = models.CharField(max_length=200, db_column="productName")
    # The bytes asked for: "" for the whole file, else the Range header's "start-end".
    byte_range = models.CharField(max_length=100, blank=True, db_column="range")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")

    class Meta:
        db_table = "downloads"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="downloads_user_created")]

    def __str__(self):
        return f"{self.product_name} ({self.created_at:%Y-%m-%d %H:%M})"
