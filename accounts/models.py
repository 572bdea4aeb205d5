"""The users collection (schema.md section 1), which is also the auth user model."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models

from referral_site.validators import non_negative, strip_fields

REFERRAL_CODE_LENGTH = 8
# Upper case letters and digits without the look-alikes 0/O and 1/I (ARCHITECTURE.md 5).
REFERRAL_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

referral_code_validator = RegexValidator(
    regex=rf"^[A-Z0-9]{{{REFERRAL_CODE_LENGTH}}}$",
    message=f"A referral code is exactly {REFERRAL_CODE_LENGTH} upper-case letters or digits.",
    code="invalid_referral_code",
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        # Kept thin: real sign-up goes through accounts.services.user_create,
        # which also makes the referral code and records the referral.
        from accounts.services import user_create

        return user_create(email=email, password=password, **extra)

    def create_superuser(self, email, password=None, **extra):
        from accounts.services import user_create

        return user_create(email=email, password=password, is_staff=True, is_superuser=True,
                           **extra)


class User(AbstractBaseUser, PermissionsMixin):
    clerk_user_id = models.CharField(
        "Clerk user id", max_length=64, unique=True, db_column="clerkUserId"
    )
    referral_code = models.CharField(
        max_length=REFERRAL_CODE_LENGTH,
        unique=True,
        validators=[referral_code_validator],
        db_column="referralCode",
    )
    name = models.CharField(max_length=150, db_column="name")
    # Stored lower-cased by the services, so the unique index makes e-mail
    # addresses unique regardless of case. Null for a Clerk user without one.
    email = models.EmailField(unique=True, null=True, blank=True, db_column="email")
    credits = models.IntegerField(default=0, validators=[non_negative("Credits")],
                                  db_column="credits")
    total_credits_earned = models.IntegerField(
        default=0, validators=[non_negative("Total credits earned")], db_column="totalCreditsEarned"
    )
    total_referred_users = models.IntegerField(
        default=0, validators=[non_negative("Total referred users")],
        db_column="totalReferredUsers",
    )
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_users",
        db_column="referredBy",
    )
    is_active = models.BooleanField(default=True, db_column="isActive")
    is_staff = models.BooleanField(default=False, db_column="isStaff")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    # AbstractBaseUser / PermissionsMixin fields, named like the rest of the collection.
    password = models.CharField("password", max_length=128, db_column="password")
    last_login = models.DateTimeField("last login", blank=True, null=True, db_column="lastLogin")
    is_superuser = models.BooleanField(
        "superuser status", default=False, db_column="isSuperuser",
        help_text="Designates that this user has all permissions without explicitly assigning them.",  # noqa: E501
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        db_table = "users"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.email else self.name

    def clean_fields(self, exclude=None):
        # Trim before the field checks so that "   " fails as a required name.
        strip_fields(self, "name")
        if self.email:
            self.email = self.email.strip().lower()
        super().clean_fields(exclude=exclude)

    def get_full_name(self):
        return self.name

    def get_short_name(self):
        return self.name.split(" ")[0] if self.name else ""


class RateLimitBucket(models.Model):
    """One fixed-window counter of attempts (collection ``rateLimits``).

    Counters live in the database, not in process memory, so every gunicorn
    worker on every host shares them (ARCHITECTURE.md section 8). ``key`` holds
    an HMAC of the address or e-mail, never the value itself. A TTL index on
    ``expiresAt`` (migration 0002) lets MongoDB delete finished windows.
    """

    key = models.CharField(max_length=200, unique=True, db_column="key")
    count = models.PositiveIntegerField(default=0, db_column="count")
    expires_at = models.DateTimeField(db_column="expiresAt")

    class Meta:
        db_table = "rateLimits"

    def __str__(self):
        return f"{self.key}: {self.count}"
