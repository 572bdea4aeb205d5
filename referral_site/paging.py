"""A page of rows whose total was counted in the same database command.

Django's Paginator asks for a count and then a slice (two commands); the
dashboard gets both from one ``$facet`` aggregation and wraps them here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from math import ceil

from django.utils import timezone

# Far beyond any real page; keeps $skip inside a 64-bit integer.
MAX_PAGE = 1_000_000


def page_number(raw, default: int = 1) -> int:
    """A page number from a query parameter: 1 for junk, clamped to MAX_PAGE."""
    try:
        return min(max(1, int(raw)), MAX_PAGE)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Page:
    object_list: list
    number: int
    per_page: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, ceil(self.count / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1

    @property
    def start_index(self) -> int:
        """1-based position of the page's first row (0 when there are none)."""
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.object_list)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


@dataclass(frozen=True)
class Facets:
    """One $facet aggregation's answer: a page of documents, the total, and any extra facets."""

    rows: list[dict]
    count: int
    number: int  # the page number served, after clamping
    extra: dict


def facet_page(
    collection,
    *,
    match: dict,
    sort: dict,
    page: int,
    per_page: int,
    extra_facets: dict | None = None,
    count: Callable[[dict], int] | None = None,
) -> Facets:
    """One page of ``collection`` and its total count in one aggregation.

    ``count``, when the extra facets already hold the total, reads it from
    their answers (``{name: documents}``) instead of a $count facet of its
    own: one pass fewer over the matching documents.

    A page beyond the last (a stale link, a hand-edited number) is answered
    with the last page: one more aggregation, only in that case.
    """
    facets = {"rows": [{"$skip": (page - 1) * per_page}, {"$limit": per_page}]}
    if count is None:
        facets["count"] = [{"$count": "n"}]
    facets.update(extra_facets or {})
    # $match and $sort before the $facet, where MongoDB can serve both from an
    # index; the sub-pipelines of a $facet never use one.
    pipeline = [{"$match": match}, {"$sort": sort}, {"$facet": facets}]
    result = next(iter(collection.aggregate(pipeline)), None)
    result = result or {key: [] for key in facets}
    extra = {key: result.get(key, []) for key in (extra_facets or {})}
    total = (result.get("count") or [{}])[0].get("n", 0) if count is None else count(extra)
    last = max(1, ceil(total / per_page))
    if page > last:
        return facet_page(
            collection,
            match=match,
            sort=sort,
            page=last,
            per_page=per_page,
            extra_facets=extra_facets,
            count=count,
        )
    return Facets(rows=result.get("rows", []), count=total, number=page, extra=extra)


def aware(value):
    """A datetime read straight from pymongo (naive, UTC) as an aware one; None stays None."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, UTC)
