"""Move old purchases into purchasesArchive: in batches, resumable, each document exactly once.

schema.md, "Maintenance Tasks": archive old purchase records. Per batch:

1. copy: insert the batch's documents, as stored, into purchasesArchive (same
   _id). A copy left by an interrupted run is a duplicate key, not an error;
2. verify: read the copies back and compare each with the live document,
   field by field. A stale copy (the purchase changed after an interrupted
   run copied it) is replaced and compared again;
3. delete: remove from purchases only documents whose copy was verified, and
   only while unchanged since (the filter carries the verified updatedAt), so
   a purchase updated in between stays live; its copy is then removed again.

A crash anywhere leaves each purchase in purchases, or in both with an
identical copy (between 2 and 3): readers prefer the live document, and the
next run finishes the move. No multi-document transaction is needed (none is
opened on the embedded server either, ARCHITECTURE.md section 3, gap 7).

What is archived: purchases created before the date, in a final status
(completed, failed, refunded: nothing in flight), except first purchases.
A buyer's first purchase (isFirstPurchase) stays live for good: the partial
unique index {userId, isFirstPurchase} of purchases is what makes it the one
first purchase, so moving it away would let the buyer's next purchase claim
"first" again; and a refund of it must still find it to reverse a referral.
One document per buyer stays.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pymongo import DeleteOne
from pymongo.errors import BulkWriteError

from purchases.models import ArchivedPurchase, Purchase, PurchaseStatus
from referral_site.db.collections import collection

# Below the embedded server's limit on $in lists (gap 6), and a bounded
# amount of memory per batch.
BATCH_SIZE = 400
ARCHIVABLE_STATUSES = (
    PurchaseStatus.COMPLETED.value,
    PurchaseStatus.FAILED.value,
    PurchaseStatus.REFUNDED.value,
)
_DUPLICATE_KEY = 11000


@dataclass
class ArchiveResult:
    candidates: int = 0  # old enough and final
    kept: int = 0  # first purchases: they stay live
    moved: int = 0
    changed_meanwhile: int = 0  # updated while being moved: left live for the next run
    resumed: list = field(default_factory=list)  # ids an interrupted run had copied


def _candidate_filter(before: datetime) -> dict:
    return {"createdAt": {"$lt": before}, "status": {"$in": list(ARCHIVABLE_STATUSES)}}


def _batches(before: datetime, batch_size: int):
    """The candidates' (_id, userId, isFirstPurchase), oldest first, a batch at a time."""
    cursor = collection(Purchase).find(
        _candidate_filter(before),
        {"_id": 1, "userId": 1, "isFirstPurchase": 1},
        sort=[("createdAt", 1)],  # the createdAt index, walked backwards
        batch_size=batch_size,
    )
    batch = []
    for row in cursor:
        batch.append(row)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def purchases_archive(
    *,
    before: datetime,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> ArchiveResult:
    result = ArchiveResult()
    for batch in _batches(before, batch_size):
        result.candidates += len(batch)
        ids = [row["_id"] for row in batch if not row.get("isFirstPurchase")]
        result.kept += len(batch) - len(ids)
        if dry_run:
            result.moved += len(ids)
        elif ids:
            _move(ids, result)
        if on_batch:
            on_batch(len(batch))
    return result


def purchases_archive_pending() -> int:
    """Copies an interrupted run left in both collections (for --dry-run)."""
    archive = collection(ArchivedPurchase)
    live = collection(Purchase)
    count = 0
    batch = []
    for row in archive.find({}, {"_id": 1}, batch_size=BATCH_SIZE):
        batch.append(row["_id"])
        if len(batch) == BATCH_SIZE:
            count += live.count_documents({"_id": {"$in": batch}})
            batch = []
    if batch:
        count += live.count_documents({"_id": {"$in": batch}})
    return count


def _move(ids: list, result: ArchiveResult) -> None:
    live, archive = collection(Purchase), collection(ArchivedPurchase)
    documents = {doc["_id"]: doc for doc in live.find({"_id": {"$in": ids}})}
    if not documents:
        return
    # 1. copy (a duplicate key: an interrupted run copied it already)
    try:
        archive.insert_many(
            list(documents.values()), ordered=False, bypass_document_validation=True
        )
    except BulkWriteError as exc:
        others = [e for e in exc.details["writeErrors"] if e.get("code") != _DUPLICATE_KEY]
        if others:
            raise
        result.resumed.extend(e["op"]["_id"] for e in exc.details["writeErrors"])
    # 2. verify, replacing a stale copy once
    verified = _verified(documents)
    stale = [pk for pk in documents if pk not in verified]
    for pk in stale:
        archive.replace_one({"_id": pk}, documents[pk], upsert=True)
    if stale:
        verified = _verified(documents)
    # 3. delete what was verified, if unchanged since it was read
    deleted = _delete_verified(documents, verified)
    result.moved += deleted
    if deleted != len(verified) or len(verified) != len(documents):
        # Some changed in between: they stay live, their copies go.
        still_live = {
            doc["_id"] for doc in live.find({"_id": {"$in": list(documents)}}, {"_id": 1})
        }
        if still_live:
            archive.delete_many({"_id": {"$in": list(still_live)}})
        result.changed_meanwhile += len(still_live)


def _delete_verified(documents: dict, verified: set) -> int:
    deletes = [
        DeleteOne({"_id": pk, "updatedAt": documents[pk].get("updatedAt")}) for pk in verified
    ]
    if not deletes:
        return 0
    return collection(Purchase).bulk_write(deletes, ordered=False).deleted_count


def _verified(documents: dict) -> set:
    copies = collection(ArchivedPurchase).find({"_id": {"$in": list(documents)}})
    return {copy["_id"] for copy in copies if copy == documents[copy["_id"]]}


def purchase_as_live(archived: ArchivedPurchase) -> Purchase:
    """An archived purchase as a (read-only) Purchase, for views and templates."""
    purchase = Purchase(
        **{f.attname: getattr(archived, f.attname) for f in ArchivedPurchase._meta.concrete_fields}
    )
    purchase._state.adding = False
    purchase._state.db = archived._state.db
    purchase.archived = True
    return purchase
