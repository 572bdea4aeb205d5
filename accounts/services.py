"""Writes for users: creation with a unique referral code."""

import secrets
import uuid

from django.db import IntegrityError

from accounts.models import REFERRAL_CODE_ALPHABET, REFERRAL_CODE_LENGTH, User
from referral_site.exceptions import ApplicationError

CODE_ATTEMPTS = 10


class EmailTaken(ApplicationError):
    pass


def referral_code_generate() -> str:
    return "".join(secrets.choice(REFERRAL_CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def _local_clerk_user_id() -> str:
    # Local accounts have no Clerk identity, but clerkUserId is required and
    # unique: a random, never-reused value that stays with the account.
    return f"local_{uuid.uuid4().hex}"


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
            if "referralCode" in str(exc):
                continue
            if "email" in str(exc):
                raise EmailTaken("An account with this e-mail address already exists.",
                                 field="email") from exc
            raise
    raise ApplicationError("Could not allocate a unique referral code; please try again.")
