"""MongoDB ``$text`` search for the apps, whatever server answers it.

An app hands over a filter written for MongoDB (``{"$text": {"$search": q},
...}``) and gets back results that Django's Paginator can page. The ORM
cannot carry it: every ORM read is an aggregation, and the embedded stand-in
accepts ``$text`` only in the ``find`` and ``count`` commands
(ARCHITECTURE.md section 3, gap 11), so this module runs those two commands,
which real MongoDB answers the same way.
"""

from __future__ import annotations

import time

from django.db import connection
from pymongo.errors import OperationFailure

from referral_site.db.documents import column

# How long a process trusts what it learnt about a collection's text index.
# A new or dropped index is noticed within this time without a restart; a
# dropped one is also noticed at once by the failing search.
TEXT_INDEX_RECHECK_SECONDS = 300.0

# collection name -> (when looked, has a text index)
_text_index_seen: dict[str, tuple[float, bool]] = {}


def has_text_index(model) -> bool:
    """Whether the model's collection has a text index; asked once per interval.

    A cached fact about the schema, not request state: every process finds
    out for itself with one listIndexes command.
    """
    name = model._meta.db_table
    now = time.monotonic()
    seen = _text_index_seen.get(name)
    if seen is None or now - seen[0] > TEXT_INDEX_RECHECK_SECONDS:
        indexes = connection.get_collection(name).index_information()
        has_text = any(
            direction == "text"
            for index in indexes.values()
            for _field, direction in index.get("key", ())
        )
        seen = _text_index_seen[name] = (now, has_text)
    return seen[1]


def forget_text_index(model=None) -> None:
    """Look at the text index again on the next search (of ``model``, or of every model)."""
    if model is None:
        _text_index_seen.clear()
    else:
        _text_index_seen.pop(model._meta.db_table, None)


def text_search(
    model, *, mongo_filter: dict, ordering: tuple[str, ...]
) -> TextSearchResults | None:
    """The documents matching ``mongo_filter`` (which holds a top-level ``$text``).

    None when the collection has no text index, when nothing matches, or when
    the index went away after we looked (dropped, or being rebuilt): the
    caller then searches without it.
    """
    if not has_text_index(model):
        return None
    results = TextSearchResults(model, mongo_filter=mongo_filter, ordering=ordering)
    try:
        return results if results.count() else None
    except OperationFailure:
        forget_text_index(model)
        return None


class TextSearchResults:
    """Model instances matching a ``$text`` filter, with count() and slicing for Paginator.

    A page costs three commands: count, find the page's ids, fetch those
    instances through the ORM (so they are whole model objects).
    """

    ordered = True  # tells Paginator the order is deliberate

    def __init__(self, model, *, mongo_filter: dict, ordering: tuple[str, ...]):
        self.model = model
        self.mongo_filter = mongo_filter
        self.sort = {
            self._column(name.lstrip("-")): -1 if name.startswith("-") else 1 for name in ordering
        }
        self._count: int | None = None

    def _column(self, field_name: str) -> str:
        return column(self.model, field_name)

    def count(self) -> int:
        if self._count is None:
            reply = connection.get_database().command(
                {"count": self.model._meta.db_table, "query": self.mongo_filter}
            )
            self._count = int(reply["n"])
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list:
        if not isinstance(key, slice) or key.stop is None or key.step not in (None, 1):
            raise TypeError("TextSearchResults supports bounded slices only")
        start = key.start or 0
        limit = key.stop - start
        if limit <= 0:
            return []
        reply = connection.get_database().command(
            {
                "find": self.model._meta.db_table,
                "filter": self.mongo_filter,
                "sort": self.sort,
                # Only the ids: with $text, the stand-in answers a projection
                # of other fields with empty documents (gap 11).
                "projection": {"_id": 1},
                "skip": start,
                "limit": limit,
                "singleBatch": True,
            }
        )
        ids = [document["_id"] for document in reply["cursor"]["firstBatch"]]
        if not ids:
            return []
        # At most one page of ids: far below the stand-in's $in limit (gap 6).
        by_id = {obj.pk: obj for obj in self.model.objects.filter(pk__in=ids)}
        return [by_id[pk] for pk in ids if pk in by_id]
