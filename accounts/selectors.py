"""Reads for users. Every lookup here is one query on a uniquely indexed field (_id included)."""

import re

from accounts.models import REFERRAL_CODE_ALPHABET, REFERRAL_CODE_LENGTH, User
from referral_site.batching import filter_in

_CODE_SHAPE = re.compile(rf"^[{REFERRAL_CODE_ALPHABET}]{{{REFERRAL_CODE_LENGTH}}}$")
# Spaces and dashes people put into a code they copy or type.
_CODE_NOISE = re.compile(r"[\s-]+")


def referral_code_normalize(code: str | None) -> str:
    """A typed or linked code in its stored form: upper case, no spaces or dashes.

    Codes are matched case-insensitively by upper-casing before the query, so
    the lookup stays an equality match on the unique referralCode index (a
    case-insensitive regex could not use it).
    """
    return _CODE_NOISE.sub("", code or "").upper()


def referral_code_is_well_formed(code: str) -> bool:
    return bool(_CODE_SHAPE.match(code))


def user_get_by_referral_code(*, code: str | None) -> User | None:
    """The active user owning ``code`` (any letter case), or None."""
    normalized = referral_code_normalize(code)
    if not referral_code_is_well_formed(normalized):
        # Cannot exist: every stored code has this shape. Skip the query.
        return None
    try:
        return User.objects.get(referral_code=normalized, is_active=True)
    except User.DoesNotExist:
        return None


def user_get_by_clerk_user_id(*, clerk_user_id: str) -> User | None:
    try:
        return User.objects.get(clerk_user_id=clerk_user_id)
    except User.DoesNotExist:
        return None


def user_get_by_email(*, email: str) -> User | None:
    """E-mail addresses are stored lower case, so this is an exact index match."""
    address = (email or "").strip().lower()
    if not address:
        return None
    try:
        return User.objects.get(email=address)
    except User.DoesNotExist:
        return None


def user_names_by_id(ids) -> dict:
    """{id: name} for the given user ids (None ignored): one query per 400 ids, no join."""
    wanted = sorted({i for i in ids if i is not None}, key=str)
    return dict(filter_in(User.objects.values_list("pk", "name"), "pk", wanted))
