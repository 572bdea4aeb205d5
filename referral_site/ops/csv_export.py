"""CSV export of the documented collections, for business analysis.

Values are written the way a spreadsheet or a reporting job can use them:

* money (Decimal128 / Decimal) as plain decimals: ``32.99``, never a float;
* times in UTC, ISO 8601 with milliseconds (MongoDB's precision):
  ``2024-01-12T14:20:00.000Z``;
* ObjectIds as 24-digit hex strings, booleans as ``true`` / ``false``,
  missing values and nulls as empty cells;
* text that a spreadsheet would run as a formula (starting with ``=``, ``+``,
  ``-``, ``@``, tab or carriage return) is prefixed with ``'``: names and
  titles are typed by customers and staff, and the file is opened by others.

Columns are an explicit list per collection (the documented field names, as
stored), never "every field": so the users export cannot leak the password
hash, today or after someone adds a field.
"""

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

from bson import Decimal128, ObjectId, json_util
from pymongo.database import Database

from referral_site.formats import iso_utc
from referral_site.ops import BATCH_SIZE, OperationError

# schema.md's fields, in its order; ARCHITECTURE.md section 4 and
# credits/models.py for the ledger.
COLUMNS: dict[str, tuple[str, ...]] = {
    # Plus email, isActive, isStaff. Never password, lastLogin or isSuperuser.
    "users": (
        "_id",
        "clerkUserId",
        "referralCode",
        "name",
        "email",
        "credits",
        "totalCreditsEarned",
        "totalReferredUsers",
        "referredBy",
        "isActive",
        "isStaff",
        "createdAt",
        "updatedAt",
    ),
    # Plus status and refundedAt: without them failed and refunded purchases
    # would count as revenue in any sum over the file.
    "purchases": (
        "_id",
        "userId",
        "productId",
        "productName",
        "amount",
        "creditsUsed",
        "creditAmount",
        "cashAmount",
        "paymentMethodId",
        "isFirstPurchase",
        "referralCreditAwarded",
        "status",
        "refundedAt",
        "createdAt",
        "updatedAt",
    ),
    "referrals": (
        "_id",
        "referrerId",
        "referredUserId",
        "status",
        "creditsAwarded",
        "convertedAt",
        "createdAt",
        "updatedAt",
    ),
    "products": (
        "_id",
        "title",
        "description",
        "author",
        "price",
        "category",
        "imageUrl",
        "createdAt",
        "updatedAt",
    ),
    "creditTransactions": (
        "_id",
        "userId",
        "amount",
        "kind",
        "purchaseId",
        "referralId",
        "actorId",
        "reason",
        "balanceAfter",
        "idempotencyKey",
        "createdAt",
    ),
}
# Purchases moved by archive_purchases: the same columns.
COLUMNS["purchasesArchive"] = COLUMNS["purchases"]
COLLECTIONS = tuple(COLUMNS)

# Fields of other models never exported by the admin action (matched in the
# field's name or column, lower-cased).
SECRET_FIELD_MARKERS = ("password", "secret", "token")

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def format_value(value: Any) -> str:
    """One cell. See the module docstring for the rules."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_STARTS) else value
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        return format(value, "f")  # never "2E+1"
    if isinstance(value, int):
        return str(int(value))  # bson.Int64 too, without its repr
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return json_util.dumps(value)  # an embedded document or array: relaxed Extended JSON


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 datetime (UTC unless it has an offset)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise OperationError(
            f"--since {text!r} is not a date: use YYYY-MM-DD or an ISO 8601 datetime "
            f"such as 2024-01-12T14:20:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def since_filter(since: datetime | None) -> dict:
    return {"createdAt": {"$gte": since}} if since is not None else {}


def iter_documents(
    db: Database, collection: str, *, since: datetime | None = None
) -> Iterator[dict]:
    """The collection's documents, oldest _id first, only the exported fields."""
    columns = COLUMNS[collection]
    # _id order is insertion order, and always indexed: no in-memory sort.
    return db[collection].find(
        since_filter(since),
        projection=dict.fromkeys(columns, 1),
        sort=[("_id", 1)],
        batch_size=BATCH_SIZE,
    )


def write_rows(
    out: IO[str],
    header: Iterable[str],
    rows: Iterable[Iterable[Any]],
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write the header and the rows as they come; return how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([format_value(value) for value in row])
        count += 1
        if on_row is not None:
            on_row(1)
    return count


def export_collection(
    db: Database,
    *,
    collection: str,
    out: IO[str],
    since: datetime | None = None,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Stream one collection as CSV to ``out``; return the number of rows."""
    columns = COLUMNS[collection]
    rows = (
        [document.get(column) for column in columns]
        for document in iter_documents(db, collection, since=since)
    )
    return write_rows(out, columns, rows, on_row)


# --- Any model (the admin action) ---------------------------------------------


def model_columns(model) -> list[tuple[str, str]]:
    """``(column, attname)`` pairs to export for a model.

    The documented columns for the five collections above; otherwise every
    concrete field by its stored name, minus anything that looks secret.
    """
    fields = {field.column: field for field in model._meta.concrete_fields}
    table = model._meta.db_table
    if table in COLUMNS:
        return [(column, fields[column].attname) for column in COLUMNS[table] if column in fields]
    return [
        (field.column, field.attname)
        for field in model._meta.concrete_fields
        if not _looks_secret(field)
    ]


def _looks_secret(field) -> bool:
    names = f"{field.name} {field.column}".lower()
    return any(marker in names for marker in SECRET_FIELD_MARKERS)


class _Line:
    """A file-like object whose write() hands back the line (for streaming)."""

    def write(self, text: str) -> str:
        return text


def stream_queryset(queryset) -> Iterator[str]:
    """CSV lines for a queryset (header first), fetched in batches as they are sent."""
    columns = model_columns(queryset.model)
    writer = csv.writer(_Line(), lineterminator="\n")
    yield writer.writerow([column for column, _ in columns])
    # Only the exported fields are read (the password hash never leaves the
    # database), and no joins the admin list may have asked for.
    rows = queryset.select_related(None).values_list(*(attname for _, attname in columns))
    for row in rows.iterator(chunk_size=BATCH_SIZE):
        yield writer.writerow([format_value(value) for value in row])
