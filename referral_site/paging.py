"""A page of rows whose total was counted in the same database command.

Django's Paginator asks for a count and then a slice (two commands); the
dashboard gets both from one ``$facet`` aggregation and wraps them here.
"""

from dataclasses import dataclass
from math import ceil

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

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)
