"""Writes for users: creation with a unique referral code, sign-up, Clerk users."""

import re
import secrets
import uuid

from django.db import IntegrityError

from accounts.models import REFERRAL_CODE_ALPHABET, REFERRAL_CODE_LENGTH, User
from accounts.selectors import (
    referral_code_normalize,
    user_get_by_clerk_user_id,
    user_get_by_email,
    user_get_by_referral_code,
)
from referral_site.exceptions import ApplicationError

CODE_ATTEMPTS = 10
# Name given to a Clerk user whose token carries no name claims (name is required).
CLERK_DEFAULT_NAME = "Member"
NAME_MAX_LENGTH = User._meta.get_field("name").max_length


class EmailTaken(ApplicationError):
    pass


class ClerkUserTaken(ApplicationError):
    pass


class ReferralCodeUnknown(ApplicationError):
    pass


def referral_code_generate() -> str:
    return "".join(secrets.choice(REFERRAL_CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def _local_clerk_user_id() -> str:
    # Local accounts have no Clerk identity, but clerkUserId is required and
    # unique: a random, never-reused value that stays with the account.
    return f"local_{uuid.uuid4().hex}"


_DUP_KEY_FIELD = re.compile(r"dup key: \{ *\"?(\w+)")


def duplicate_key_field(exc: IntegrityError) -> str | None:
    """The field (stored name) whose unique index refused an insert, if known.

    MongoDB reports it as ``keyPattern`` (pymongo's DuplicateKeyError, or each
    entry of a BulkWriteError); older servers only in the message text.
    """
    cause = exc.__cause__ or exc.__context__
    details = getattr(cause, "details", None) or {}
    errors = details.get("writeErrors") or [details]
    for error in errors:
        pattern = error.get("keyPattern") if isinstance(error, dict) else None
        if pattern:
            return next(iter(pattern))
    match = _DUP_KEY_FIELD.search(str(exc))
    return match.group(1) if match else None


def user_create(
    *,
    email: str | None,
    password: str | None,
    name: str = "",
    clerk_user_id: str | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
    referred_by: User | None = None,
) -> User:
    """Create a user with a fresh referral code; retry on a code collision.

    The unique index on referralCode decides collisions; on one we draw a new
    code and insert again. A clash on e-mail or clerkUserId is not retried.
    """
    user = User(
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
            user.save(force_insert=True)
            return user
        except IntegrityError as exc:
            user.pk = None
            user._state.adding = True
            field = duplicate_key_field(exc)
            if field == "referralCode":
                continue
            if field == "email":
                raise EmailTaken("An account with this e-mail address already exists.",
                                 field="email") from exc
            if field == "clerkUserId":
                raise ClerkUserTaken("This Clerk user already has an account.") from exc
            raise
    raise ApplicationError("Could not allocate a unique referral code; please try again.")


def user_signup(
    *, name: str, email: str, password: str, referral_code: str | None = None
) -> User:
    """Sign-up from the site: a local account, referred when a code is given.

    Steps, each safe to repeat (no multi-document transaction):
    1. resolve the code (unknown -> ReferralCodeUnknown on the field);
    2. insert the user with referredBy set; the unique e-mail index stops a
       second account;
    3. insert the pending referral and count it (referrals.services.referral_create,
       idempotent through the unique index on referredUserId).

    A repeat with the same e-mail and the right password (a double submit, or
    a retry after a crash between steps 2 and 3) returns the existing account,
    after finishing step 3 for it, instead of failing. With any other password
    it is EmailTaken, exactly as a stranger would see.
    """
    from referrals.services import referral_create

    referrer = None
    if referral_code_normalize(referral_code):
        referrer = user_get_by_referral_code(code=referral_code)
        if referrer is None:
            raise ReferralCodeUnknown("No account has this referral code. Check it, or leave "
                                      "the field empty.", field="referral_code")
    try:
        user = user_create(email=email, password=password, name=name, referred_by=referrer)
    except EmailTaken:
        existing = user_get_by_email(email=email)
        if existing is None or not existing.is_active or not existing.check_password(password):
            raise
        # Same credentials: this is the same person's repeated submit. Whether
        # they are referred was decided by the first submit (referredBy is set
        # only at creation); a code in this one is ignored.
        if existing.referred_by_id is not None:
            referral_create(referrer=existing.referred_by, referred_user=existing)
        return existing
    if referrer is not None:
        referral_create(referrer=referrer, referred_user=user)
    return user


def clerk_name_from_claims(claims: dict) -> str:
    """A display name from a Clerk token's optional claims, or the default."""
    def text(key: str) -> str:
        value = claims.get(key)
        return value if isinstance(value, str) else ""

    candidates = [
        text("name"),
        f"{text('first_name')} {text('last_name')}",
        f"{text('given_name')} {text('family_name')}",
    ]
    for candidate in candidates:
        if candidate.strip():
            return " ".join(candidate.split())[:NAME_MAX_LENGTH]
    return CLERK_DEFAULT_NAME


def user_get_or_create_for_clerk(
    *, clerk_user_id: str, name: str, referral_code: str | None = None
) -> tuple[User, bool]:
    """The user with this clerkUserId, created on first sight; ``(user, created)``.

    A new user gets a referral code like any other and, when the visitor came
    through a referral link, is referred (their sign-up happens here). An
    unknown remembered code is ignored: there is no form to report it on.
    The e-mail address is not taken from the token: an unverified address
    must not be able to claim an existing local account.
    """
    from referrals.services import referral_create

    user = user_get_by_clerk_user_id(clerk_user_id=clerk_user_id)
    if user is not None:
        return user, False
    referrer = user_get_by_referral_code(code=referral_code) if referral_code else None
    try:
        user = user_create(email=None, password=None, name=name or CLERK_DEFAULT_NAME,
                           clerk_user_id=clerk_user_id, referred_by=referrer)
    except ClerkUserTaken:
        # A concurrent first request inserted it; the unique index picked that one.
        user = User.objects.get(clerk_user_id=clerk_user_id)
        if user.referred_by_id is not None:
            referral_create(referrer=user.referred_by, referred_user=user)
        return user, False
    if referrer is not None:
        referral_create(referrer=referrer, referred_user=user)
    return user, True


def user_password_set(*, user: User, password: str) -> User:
    user.set_password(password)
    # Only these columns: a full save() would write back credits and counters
    # as they were read at the start of the request, undoing any award made
    # in the meantime (ARCHITECTURE.md section 4).
    user.save(update_fields=["password", "updated_at"])
    return user


def user_update_profile(*, user: User, fields: list[str]) -> User:
    """Save the named editable columns of ``user`` (admin change form), nothing else."""
    allowed = {"name", "email", "is_active", "is_staff", "is_superuser"}
    update_fields = sorted(allowed.intersection(fields))
    if update_fields:
        try:
            user.save(update_fields=[*update_fields, "updated_at"])
        except IntegrityError as exc:
            if duplicate_key_field(exc) == "email":
                raise EmailTaken("An account with this e-mail address already exists.",
                                 field="email") from exc
            raise
    return user
