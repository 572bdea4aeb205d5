"""Writes for users: creation with a unique referral code, profile and password.

Sign-up from the site (with or without a referral code) is the referrals
app's: it creates the user through ``user_create`` and records the referral.
"""

import unicodedata

from django.db import IntegrityError

from accounts.models import ClerkUserTaken, EmailTaken, User
from referral_site.db.errors import duplicate_key_field

__all__ = [
    "ClerkUserTaken",
    "EmailTaken",
    "clerk_name_from_claims",
    "user_create",
    "user_password_set",
    "user_update_profile",
]

# Name given to a Clerk user whose token carries no name claims (name is required).
CLERK_DEFAULT_NAME = "Member"
NAME_MAX_LENGTH = User._meta.get_field("name").max_length


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
    """Create a user with a fresh referral code (UserManager.create_user retries collisions).

    Raises EmailTaken or ClerkUserTaken when the unique index says the e-mail
    address or the Clerk user already has an account.
    """
    return User.objects.create_user(
        email,
        password,
        name=name,
        clerk_user_id=clerk_user_id,
        is_staff=is_staff,
        is_superuser=is_superuser,
        referred_by=referred_by,
    )


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
        printable = "".join(ch for ch in candidate if unicodedata.category(ch) != "Cc")
        if printable.strip():
            return " ".join(printable.split())[:NAME_MAX_LENGTH]
    return CLERK_DEFAULT_NAME


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
                raise EmailTaken(
                    "An account with this e-mail address already exists.", field="email"
                ) from exc
            raise
    return user
