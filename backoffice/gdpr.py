"""GDPR: export everything held about a user, and erase their personal data.

Used by ``manage.py gdpr_export`` / ``gdpr_erase`` and by the account settings
page (``/accounts/settings/``).

Export reads the stored documents as they are (field names as in schema.md),
one query per collection on an indexed field, and renders them as JSON with
money as decimal strings, times as ISO 8601 UTC and ObjectIds as hex.

Erasure is pseudonymisation, not deletion: purchases, referrals and ledger
entries keep pointing at the same ``_id`` with their amounts, so every total
(revenue, the referrer's totalReferredUsers, the ledger sums behind the
balances) stays right. Only the personal fields of the user document change,
and the account is disabled.
"""

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from accounts import clerk
from accounts.models import User
from accounts.selectors import user_get_by_email
from credits.models import CreditTransaction
from purchases.models import ArchivedPurchase, Download, Purchase
from referral_site.db.collections import collection
from referral_site.exceptions import ApplicationError
from referral_site.formats import iso_utc
from referrals.models import Referral

logger = logging.getLogger(__name__)

ERASED_NAME = "Deleted user"
# clerkUserId is required and unique: an erased account gets a fresh random
# value with this prefix, which is also how an erased account is recognised.
ERASED_CLERK_PREFIX = "erased_"
ERASURE_MESSAGE = "Personal data erased (GDPR)"
PASSWORD_WITHHELD = "(hash withheld)"  # noqa: S105 - a placeholder, not a password
EXPORT_FORMAT = "referral-store/user-export/1"
# An erasure found without its admin log row is given one after this long.
REPAIR_AFTER = timedelta(minutes=5)

_ACTION_NAMES = {1: "addition", 2: "change", 3: "deletion"}


class UserNotFound(ApplicationError):
    pass


# --- Export ------------------------------------------------------------------------


def _admin_log_about(user_id) -> list[dict]:
    """Admin log entries about the user (single collection; object ids are strings)."""
    content_type = ContentType.objects.get_for_model(User)
    rows = LogEntry.objects.filter(
        content_type_id=content_type.pk, object_id=str(user_id)
    ).order_by("action_time")
    return [
        {
            "actionTime": entry.action_time,
            "action": _ACTION_NAMES.get(entry.action_flag, str(entry.action_flag)),
            "changeMessage": entry.get_change_message(),
            "actorId": entry.user_id,
        }
        for entry in rows
    ]


def user_data_export(*, user_id: ObjectId) -> dict:
    """Everything held about the user, as stored: a dict ready for ``export_to_json``.

    The user document comes whole except for the password hash, so a field
    added later is exported without anyone remembering to list it. Referrals
    name the other user by id only: their name is someone else's data.
    """
    connection.ensure_connection()
    user = collection(User).find_one({"_id": user_id})
    if user is None:
        raise UserNotFound("no user with that id")
    if "password" in user:
        user["password"] = PASSWORD_WITHHELD
    oldest_first = [("createdAt", 1), ("_id", 1)]
    referrals = collection(Referral)
    return {
        "format": EXPORT_FORMAT,
        "exportedAt": timezone.now(),
        "user": user,
        "referralsMade": list(referrals.find({"referrerId": user_id}, sort=oldest_first)),
        "referralsReceived": list(referrals.find({"referredUserId": user_id}, sort=oldest_first)),
        # Live and archived (archive_purchases) alike, oldest first, each once.
        "purchases": _purchases_of(user_id),
        "creditTransactions": list(
            collection(CreditTransaction).find({"userId": user_id}, sort=oldest_first)
        ),
        "downloads": list(collection(Download).find({"userId": user_id}, sort=oldest_first)),
        "adminLog": _admin_log_about(user_id),
    }


def _purchases_of(user_id) -> list[dict]:
    oldest_first = [("createdAt", 1), ("_id", 1)]
    live = list(collection(Purchase).find({"userId": user_id}, sort=oldest_first))
    seen = {document["_id"] for document in live}
    archived = [
        document
        for document in collection(ArchivedPurchase).find({"userId": user_id}, sort=oldest_first)
        if document["_id"] not in seen
    ]
    return sorted(live + archived, key=lambda d: (d.get("createdAt"), d["_id"]))


def _json_value(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        return format(value, "f")  # "32.99", never a float nor "2E+1"
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot export a {type(value).__name__}")


def export_to_json(data: dict) -> str:
    return json.dumps(data, default=_json_value, indent=2, ensure_ascii=False) + "\n"


# --- Erasure -----------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    user_id: ObjectId
    already_erased: bool
    # The Clerk user behind the account, when it had one, and what became of it:
    # deleted through the Backend API, or why not (the local erasure stands).
    clerk_user_id: str | None = None
    clerk_user_deleted: bool = False
    clerk_error: str | None = None


def user_is_erased(user: User) -> bool:
    return (user.clerk_user_id or "").startswith(ERASED_CLERK_PREFIX)


def _erased_clerk_user_id() -> str:
    return f"{ERASED_CLERK_PREFIX}{secrets.token_hex(16)}"


def _log_erasure(*, user_id, actor_id) -> None:
    # The log row is about the user but holds none of their data: the id
    # stands in for Django's usual str(obj), which would be "name <email>".
    LogEntry.objects.create(
        user_id=actor_id,
        content_type_id=ContentType.objects.get_for_model(User).pk,
        object_id=str(user_id),
        object_repr=str(user_id),
        action_flag=CHANGE,
        change_message=ERASURE_MESSAGE,
    )


def _scrub_admin_log(*, user_id) -> None:
    """Replace the name and e-mail Django's admin wrote into earlier log rows with the id."""
    LogEntry.objects.filter(
        content_type_id=ContentType.objects.get_for_model(User).pk,
        object_id=str(user_id),
    ).update(object_repr=str(user_id))


def user_erase(*, user: User, actor: User | None = None, delete_clerk_user: bool = True) -> Erasure:
    """Pseudonymise ``user`` and disable the account; safe to repeat.

    A Clerk-linked account's Clerk user is deleted too (``DELETE /v1/users/{id}``),
    after the local erasure is stored, so that the same person cannot come
    back through Clerk as the same identity and be referred again; when that
    call fails the erasure still stands and ``clerk_error`` says why.
    ``delete_clerk_user=False`` when Clerk itself reported the deletion
    (the user.deleted webhook).

    ``actor`` is who carried out the request (a staff member), recorded in the
    admin log. None means the user themself: LogEntry.user is NOT NULL in
    Django's model (and the backend refuses None), so an erasure with no staff
    member, from the settings page or a plain ``gdpr_erase``, is recorded as
    done by the data subject, on whose request it is done in either case.

    One conditional update of the personal fields only: a full save() would
    write back credits and counters as read earlier and lose a concurrent
    award. The filter on the clerkUserId that was read makes it a
    compare-and-set: of two concurrent erasures exactly one matches (the
    other finds the fresh ``erased_`` id and reports "already erased").

    Sessions are not deleted: they sit in django_session with encoded data
    and no index on the user, so finding them means decoding every session.
    They stop working anyway: the backend's get_user() (ModelBackend) refuses
    inactive users, and the password change makes the session's auth hash
    stale, so every request of an old session is anonymous from now on.
    """
    user_id = user.pk
    actor_id = actor.pk if actor is not None else user_id
    expected = user.clerk_user_id
    for _ in range(3):
        if expected is None:
            raise UserNotFound("the user no longer exists")
        if expected.startswith(ERASED_CLERK_PREFIX):
            return _finish_already_erased(user_id=user_id, actor_id=actor_id)
        erased = User.objects.filter(pk=user_id, clerk_user_id=expected).update(
            name=ERASED_NAME,
            email=None,
            clerk_user_id=_erased_clerk_user_id(),
            password=make_password(None),
            is_active=False,
            is_staff=False,
            is_superuser=False,
            last_login=None,
            last_ip_hash="",
            last_browser_hash="",
            last_seen_at=None,
            updated_at=timezone.now(),
        )
        if erased:
            _log_erasure(user_id=user_id, actor_id=actor_id)
            _scrub_admin_log(user_id=user_id)
            logger.info("user personal data erased: %s", user_id)
            if delete_clerk_user and clerk.USER_ID_SHAPE.match(expected):
                return _delete_clerk_user(user_id=user_id, clerk_user_id=expected)
            return Erasure(user_id=user_id, already_erased=False)
        # Lost the compare-and-set: see what the winner left.
        expected = User.objects.filter(pk=user_id).values_list("clerk_user_id", flat=True).first()
    raise ApplicationError("The account kept changing while it was being erased; try again.")


def _delete_clerk_user(*, user_id, clerk_user_id: str) -> Erasure:
    if not clerk.has_backend_api():
        error = "CLERK_SECRET_KEY is not set"
    else:
        try:
            clerk.clerk_user_delete(clerk_user_id=clerk_user_id)
        except clerk.ClerkUnavailable as exc:
            error = str(exc)
        else:
            logger.info("clerk user deleted for erased user %s", user_id)
            return Erasure(
                user_id=user_id,
                already_erased=False,
                clerk_user_id=clerk_user_id,
                clerk_user_deleted=True,
            )
    logger.warning("clerk user not deleted for erased user %s: %s", user_id, error)
    return Erasure(
        user_id=user_id, already_erased=False, clerk_user_id=clerk_user_id, clerk_error=error
    )


def _finish_already_erased(*, user_id, actor_id) -> Erasure:
    # Repairs a run that stopped between the update and its log row. Only an
    # erasure older than REPAIR_AFTER: a younger one may be a concurrent run
    # that is about to write its own row (updatedAt is never older than the
    # erasure, so this can only wait longer, never repair too early).
    content_type = ContentType.objects.get_for_model(User)
    updated_at = User.objects.filter(pk=user_id).values_list("updated_at", flat=True).first()
    if (
        updated_at is not None
        and updated_at < timezone.now() - REPAIR_AFTER
        and not LogEntry.objects.filter(
            content_type_id=content_type.pk, object_id=str(user_id), change_message=ERASURE_MESSAGE
        ).exists()
    ):
        _log_erasure(user_id=user_id, actor_id=actor_id)
    _scrub_admin_log(user_id=user_id)
    return Erasure(user_id=user_id, already_erased=True)


# --- Finding the user (commands) ------------------------------------------------------


def user_get_for_gdpr(*, email: str | None = None, user_id: str | None = None) -> User:
    """The user named by e-mail address (any case) or by id; UserNotFound otherwise."""
    if user_id is not None:
        if not ObjectId.is_valid(user_id):
            raise UserNotFound(f"{user_id!r} is not a user id (24 hexadecimal digits)")
        user = User.objects.filter(pk=ObjectId(user_id)).first()
        if user is None:
            raise UserNotFound("no user with that id")
        return user
    user = user_get_by_email(email=email or "")
    if user is None:
        # An erased account no longer holds its address, so it is not found
        # here either; its id (from the erasure's output) still finds it.
        raise UserNotFound("no user with that e-mail address")
    return user


def add_user_arguments(parser, *, id_help: str) -> None:
    """The commands' ``--email`` / ``--id`` choice of the data subject."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the user's e-mail address (any letter case)")
    who.add_argument("--id", dest="user_id", metavar="USER_ID", help=id_help)
