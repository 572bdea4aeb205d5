"""The referrals collection (schema.md section 2)."""

from django.conf import settings
from django.db import models
from django_mongodb_backend.fields import ArrayField


class ReferralStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONVERTED = "converted", "Converted"


class NotRewarded(models.TextChoices):
    """Why a referral ended without a reward (its status stays one of the schema's)."""

    BELOW_MINIMUM = "below_minimum", "First purchase below the qualifying amount"
    MONTHLY_CAP = "monthly_cap", "Over the referrer's monthly limit of rewards"
    REJECTED = "rejected", "Rejected by staff after review"


class Review(models.TextChoices):
    """A conversion with abuse signals waits for staff instead of awarding."""

    WAITING = "waiting", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Signal(models.TextChoices):
    """Why a conversion was sent for review (staff only: never shown to customers)."""

    SAME_CARD = "same_card", "Paid with a card the referrer used"
    SAME_IP = "same_ip", "Signed up from the referrer's IP address"
    SAME_BROWSER = "same_browser", "Signed up in the referrer's browser"
    DISPOSABLE_EMAIL = "disposable_email", "Disposable e-mail domain"
    EMAIL_ALIAS = "email_alias", "The referrer's address with dots or a +tag"
    VELOCITY = "velocity", "Many conversions for this referrer in 24 hours"


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
    # Abuse signals: those seen at sign-up, and at conversion those of the purchase.
    signals = ArrayField(
        models.CharField(max_length=20, choices=Signal.choices),
        default=list,
        blank=True,
        db_column="signals",
    )
    review = models.CharField(max_length=10, choices=Review.choices, blank=True, db_column="review")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_column="reviewedBy",
        db_index=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, db_column="reviewedAt")
    review_note = models.CharField(max_length=500, blank=True, db_column="reviewNote")
    # REFERRAL_HOLD_DAYS: when the rewards become spendable, and when they did.
    reward_held_until = models.DateTimeField(null=True, blank=True, db_column="rewardHeldUntil")
    reward_released_at = models.DateTimeField(null=True, blank=True, db_column="rewardReleasedAt")
    # The qualifying purchase was refunded: the rewards were taken back and
    # the referral can never convert again (its status stays the schema's).
    reversed_at = models.DateTimeField(null=True, blank=True, db_column="reversedAt")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    class Meta:
        db_table = "referrals"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status"], name="referrals_status"),
            # The dashboard: a referrer's referrals, newest first, a page at a time
            # (every key of its default sort, so MongoDB reads the page from it).
            models.Index(
                fields=["referrer", "-created_at", "-id"], name="referrals_referrer_created"
            ),
            # The velocity signal: a referrer's conversions in the last 24 hours.
            models.Index(fields=["referrer", "converted_at"], name="referrals_referrer_converted"),
            # The review queue and the release of held rewards.
            models.Index(fields=["review", "converted_at"], name="referrals_review"),
            models.Index(fields=["reward_held_until"], name="referrals_held_until"),
        ]
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


class ReferralLinkDay(models.Model):
    """Referral link opens (/r/<code>/) per UTC day, for the staff funnel: one $inc each."""

    day = models.CharField(max_length=10, unique=True, db_column="day")  # "YYYY-MM-DD"
    opens = models.PositiveIntegerField(default=0, db_column="opens")

    class Meta:
        db_table = "referralLinkOpens"

    def __str__(self):
        return f"{self.day}: {self.opens}"
