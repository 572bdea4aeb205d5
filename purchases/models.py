"""The purchases collection (schema.md section 3)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from referral_site.validators import non_negative


def _money(label: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"), message=f"{label} cannot be negative.")],
        **kwargs,
    )


class Purchase(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases",
        db_column="userId",
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="purchases",
        db_column="productId",
    )
    # Denormalised so that history and receipts never join products.
    product_name = models.CharField(max_length=200, db_column="productName")
    amount = _money("Amount", db_column="amount")
    credits_used = models.IntegerField(default=0, validators=[non_negative("Credits used")],
                                       db_column="creditsUsed")
    credit_amount = _money("Credit amount", default=Decimal("0.00"), db_column="creditAmount")
    cash_amount = _money("Cash amount", default=Decimal("0.00"), db_column="cashAmount")
    payment_method_id = models.CharField(max_length=255, blank=True, db_column="paymentMethodId")
    is_first_purchase = models.BooleanField(default=False, db_column="isFirstPurchase")
    referral_credit_awarded = models.BooleanField(default=False, db_column="referralCreditAwarded")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    class Meta:
        db_table = "purchases"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="purchases_created_desc"),
            models.Index(fields=["is_first_purchase"], name="purchases_is_first"),
        ]

    def __str__(self):
        return f"{self.product_name} ({self.amount})"
