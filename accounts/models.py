"""The users collection (schema.md section 1), which is also the auth user model."""

import secrets
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import IntegrityError, models

from referral_site.db.errors import duplicate_key_field
from referral_site.exceptions import ApplicationError
from referral_site.validators import no_control_characters, non_negative, strip_fields

REFERRAL_CODE_LENGTH = 8
# Upper case letters and digits without the look-alikes 0/O and 1/I (ARCHITECTURE.md 5).
REFERRAL_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

referral_code_validator = RegexValidator(
    regex=rf"^[A-Z0-9]{{{REFERRAL_CODE_LENGTH}}}$",
    message=f"A referral code is exactly {REFERRAL_CODE_LENGTH} upper-case letters or digits.",
    code="invalid_referral_code",
)


CODE_ATTEMPTS = 10


class EmailTaken(ApplicationError):
    pass


class ClerkUserTaken(ApplicationError):
    pass


def referral_code_generate() -> str:
    return "".join(secrets.choice(REFERRAL_CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def _local_clerk_user_id() -> str:
    # Local accounts have no Clerk identity, but clerkUserId is required and
    # unique: a random, never-reused value that stays with the account.
    return f"local_{uuid.uuid4().hex}"


class UserManager(BaseUserManager):
    """Inserts users with a fresh referral code (also for ``createsuperuser``).

    The site creates users through accounts.services.user_create, which
    calls this; the unique index on referralCode decides collisions, and on
    one a new code is drawn and the insert tried again. A clash on e-mail or
    clerkUserId is not retried.
    """

    use_in_migrations = True

    def create_user(
        self,
        email,
        password=None,
        *,
        name="",
        clerk_user_id=None,
        is_staff=False,
        is_superuser=False,
        referred_by=None,
    ):
        user = self.model(
            email=(email or "").strip().lower() or None,
            name=name,
            clerk_user_id=clerk_user_id or _local_clerk_user_id(),
            is_staff=is_staff,
            is_superuser=is_superuser,
            referred_by=referred_by,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        for _ in range(CODE_ATTEMPTS):
            user.referral_code = referral_code_generate()
            # Field rules only: uniqueness is the unique indexes' job (no check-then-insert).
            user.full_clean(exclude=["password"], validate_unique=False)
            try:
                user.save(force_insert=True, using=self._db)
                return user
            except IntegrityError as exc:
                user.pk = None
                user._state.adding = True
                field = duplicate_key_field(exc)
                if field == "referralCode":
                    continue
                if field == "email":
                    raise EmailTaken(
                        "An account with this e-mail address already exists.", field="email"
                    ) from exc
                if field == "clerkUserId":
                    raise ClerkUserTaken("This Clerk user already has an account.") from exc
                raise
        raise ApplicationError("Could not allocate a unique referral code; please try again.")

    def create_superuser(self, email, password=None, **extra):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


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
    name = models.CharField(max_length=150, validators=[no_control_characters], db_column="name")
    # Stored lower-cased by the services, so the unique index makes e-mail
    # addresses unique regardless of case. Null for a Clerk user without one.
    email = models.EmailField(unique=True, null=True, blank=True, db_column="email")
    credits = models.IntegerField(
        default=0, validators=[non_negative("Credits")], db_column="credits"
    )
    total_credits_earned = models.IntegerField(
        default=0, validators=[non_negative("Total credits earned")], db_column="totalCreditsEarned"
    )
    total_referred_users = models.IntegerField(
        default=0,
        validators=[non_negative("Total referred users")],
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
    # Credits earned but not spendable yet (a referral reward under
    # REFERRAL_HOLD_DAYS): a cache of the ledger's heldAmount, like credits.
    held_credits = models.IntegerField(
        default=0, validators=[non_negative("Held credits")], db_column="heldCredits"
    )
    # Where this person last signed up or in from, for the referral
    # programme's abuse signals: keyed hashes, never the address or cookie itself.
    last_ip_hash = models.CharField(max_length=64, blank=True, db_column="lastIpHash")
    last_browser_hash = models.CharField(max_length=64, blank=True, db_column="lastBrowserHash")
    last_seen_at = models.DateTimeField(null=True, blank=True, db_column="lastSeenAt")
    is_active = models.BooleanField(default=True, db_column="isActive")
    is_staff = models.BooleanField(default=False, db_column="isStaff")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    # AbstractBaseUser / PermissionsMixin fields, named like the rest of the collection.
    password = models.CharField("password", max_length=128, db_column="password")
    last_login = models.DateTimeField("last login", blank=True, null=True, db_column="lastLogin")
    is_superuser = models.BooleanField(
        "superuser status",
        default=False,
        db_column="isSuperuser",
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


class ClerkSession(models.Model):
    """A Clerk session that signed someone in here (collection ``clerkSessions``).

    Ties the Django session to it: ``sessionKey`` is the Django session it
    made, deleted when Clerk says the session ended (webhook) or when the
    shop's sign-out revoked it; ``endedAt`` then refuses any still-valid
    token of that session, so it cannot sign the user straight back in.
    """

    session_id = models.CharField(max_length=64, unique=True, db_column="sessionId")
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="clerk_sessions", db_column="userId"
    )
    session_key = models.CharField(max_length=64, blank=True, db_column="sessionKey")
    ended_at = models.DateTimeField(null=True, blank=True, db_column="endedAt")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")

    class Meta:
        db_table = "clerkSessions"

    def __str__(self):
        return self.session_id


class ClerkEvent(models.Model):
    """A Clerk webhook delivery, recorded once its effects are stored (unique ``eventId``:
    the ``svix-id`` header, the same on every retry of one message)."""

    event_id = models.CharField(max_length=255, unique=True, db_column="eventId")
    type = models.CharField(max_length=100, db_column="type")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")

    class Meta:
        db_table = "clerkEvents"

    def __str__(self):
        return f"{self.type} {self.event_id}"
