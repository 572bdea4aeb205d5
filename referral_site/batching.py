"""Large ``__in`` lists in batches.

The embedded server's SQLite engine rejects an ``$in`` with more than about
490 values ("Expression tree is too large", ARCHITECTURE.md section 3, gap 6).
Real MongoDB takes far more, and batches of a few hundred cost it nothing, so
application code batches always and never asks which server it talks to.
"""

from collections.abc import Iterable, Iterator
from itertools import islice

IN_BATCH_SIZE = 400


def batched(values: Iterable, size: int = IN_BATCH_SIZE) -> Iterator[list]:
    iterator = iter(values)
    while batch := list(islice(iterator, size)):
        yield batch


def filter_in(queryset, field: str, values: Iterable, size: int = IN_BATCH_SIZE) -> list:
    """``list(queryset.filter(<field>__in=values))``, one command per batch."""
    results = []
    for batch in batched(values, size):
        results.extend(queryset.filter(**{f"{field}__in": batch}))
    return results


def delete_in(queryset, field: str, values: Iterable, size: int = IN_BATCH_SIZE) -> int:
    """Delete the rows whose ``field`` is in ``values``; return how many went."""
    deleted = 0
    for batch in batched(values, size):
        count, _ = queryset.filter(**{f"{field}__in": batch}).delete()
        deleted += count
    return deleted
