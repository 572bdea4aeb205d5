"""The referrals collection (schema.md section 2)."""

from django.conf import settings
from django.db import models


class ReferralStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONVERTED = "converted", "Converted"


class NotRewarded(models.TextChoices):
    """Why a referral ended without a reward (its status stays one of the schema's)."""

    BELOW_MINIMUM = "below_minimum", "First purchase below the qualifying amount"
    MONTHLY_CAP = "monthly_cap", "Over the referrer's monthly limit of rewards"


class Referral(models.Model):
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="referrals_made",
        db_column="referrerId",
    )
    # Unique: a user is referred at most once. The unique index, not a check
    # in Python, is what makes a retried sign-up create nothing twice.
    referred_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="referral_received",
        db_column="referredUserId",
    )
    status = models.CharField(
        max_length=10,
        choices=ReferralStatus.choices,
        default=ReferralStatus.PENDING,
        db_column="status",
    )
    credits_awarded = models.BooleanField(default=False, db_column="creditsAwarded")
    converted_at = models.DateTimeField(null=True, blank=True, db_column="convertedAt")
    # Set when the referral can no longer earn anything, with the reason.
    not_rewarded_reason = models.CharField(
        max_length=20, choices=NotRewarded.choices, blank=True, db_column="notRewardedReason"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    class Meta:
        db_table = "referrals"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="referrals_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["referrer", "referred_user"], name="referrals_referrer_referred_unique"
            ),
        ]

    def __str__(self):
        return f"{self.referrer_id} -> {self.referred_user_id} ({self.status})"


class MonthlyRewardCount(models.Model):
    """Rewarded conversions of one referrer in one calendar month (REFERRAL_MONTHLY_CAP).

    Taken with a conditional ``$inc`` (``count < cap``) on one document per
    referrer and month, so racing conversions can never exceed the cap.
    """

    key = models.CharField(max_length=60, unique=True, db_column="key")  # "<referrerId>:YYYY-MM"
    count = models.PositiveIntegerField(default=0, db_column="count")

    class Meta:
        db_table = "referralRewardCounts"

    def __str__(self):
        return f"{self.key}: {self.count}"
