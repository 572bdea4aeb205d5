"""Reads for the catalog. Single-collection queries on indexed fields only.

Every catalog page costs a fixed number of database commands, whatever the size
of the catalog: no joins, no per-product queries, and paging by count + slice.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bson import Decimal128, ObjectId
from django.db.models import Q, QuerySet

from catalog.models import Product
from referral_site.db.collections import collection
from referral_site.db.documents import column, instance_from
from referral_site.db.text_search import TextSearchResults, text_search
from referral_site.paging import Page, facet_page

FEATURED_COUNT = 8
PAGE_SIZE = 24

SORT_NEWEST = "newest"
SORT_PRICE_ASC = "price_asc"
SORT_PRICE_DESC = "price_desc"
SORT_CHOICES = [
    (SORT_NEWEST, "Newest first"),
    (SORT_PRICE_ASC, "Price: low to high"),
    (SORT_PRICE_DESC, "Price: high to low"),
]
# The primary key breaks ties, so that paging is stable when prices or
# creation times are equal (bulk imports create many products in one ms).
_ORDERINGS = {
    SORT_NEWEST: ("-created_at", "-pk"),
    SORT_PRICE_ASC: ("price", "pk"),
    SORT_PRICE_DESC: ("-price", "-pk"),
}

# Queries of plain words only go to the text index; anything else ("C++",
# "e-book", quotes, which $text would read as operators) is a substring match.
_WHOLE_WORDS = re.compile(r"\w+(?: \w+)*")


def product_list_featured(*, limit: int = FEATURED_COUNT) -> list[Product]:
    """Staff's featured products, newest first, then the newest others: one indexed query.

    A find with sort and limit, which MongoDB answers from the
    {featured: -1, createdAt: -1} index; the ORM's aggregation would put a
    projection before the $sort.
    """
    documents = (
        collection(Product)
        .find({})
        .sort([(_column("featured"), -1), (_column("created_at"), -1)])
        .limit(limit)
    )
    return [instance_from(Product, document) for document in documents]


def product_get(*, product_id: str) -> Product | None:
    """The product with this id, or None when the id is unknown or not an ObjectId."""
    if not ObjectId.is_valid(product_id):
        return None
    # Every product page and checkout reads it: one find by _id, no ORM compilation.
    document = collection(Product).find_one({"_id": ObjectId(product_id)})
    return instance_from(Product, document) if document else None


# --------------------------------------------------------------------------
# Browse, filter and search
# --------------------------------------------------------------------------


def product_search(
    *,
    q: str = "",
    category: str = "",
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    sort: str = SORT_NEWEST,
) -> QuerySet[Product] | TextSearchResults:
    """The products matching the catalog filters, in order, ready for a Paginator.

    Search (``q``) matches titles and authors:

    * plain words, and the products collection has its text index: a MongoDB
      ``$text`` search, which matches titles containing any of the words
      (case- and accent-insensitive; real MongoDB also stems them and ignores
      stop words);
    * when that finds nothing (a word still being typed, such as "clea", or an
      author's name), or the query has punctuation, or there is no text index:
      a case-insensitive substring match on the title or the author.

    So the live search box finds "Clean Code" from "clea" on, and complete
    words use the index.
    """
    ordering = _ORDERINGS.get(sort, _ORDERINGS[SORT_NEWEST])
    queryset = Product.objects.all()
    if category:
        queryset = queryset.filter(category=category)
    if min_price is not None:
        queryset = queryset.filter(price__gte=min_price)
    if max_price is not None:
        queryset = queryset.filter(price__lte=max_price)
    if q:
        if _WHOLE_WORDS.fullmatch(q):
            results = text_search(
                Product,
                ordering=ordering,
                mongo_filter=_text_search_filter(
                    q=q, category=category, min_price=min_price, max_price=max_price
                ),
            )
            if results is not None:
                return results
        queryset = queryset.filter(Q(title__icontains=q) | Q(author__icontains=q))
    return queryset.order_by(*ordering)


def product_page(
    *,
    q: str = "",
    category: str = "",
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    sort: str = SORT_NEWEST,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """One page of the catalog with these filters (product_search's matching and order).

    The total and the page come from one aggregation ($match, $sort, then a
    $facet of the count and the page), read straight into Product instances.
    A ``$text`` search keeps its own commands (count, then find), the only
    form the stand-in accepts it in. A page beyond the last is the last.
    """
    if q and _WHOLE_WORDS.fullmatch(q):
        results = product_search(
            q=q, category=category, min_price=min_price, max_price=max_price, sort=sort
        )
        if isinstance(results, TextSearchResults):
            count = results.count()
            last = max(1, -(-count // per_page))
            number = min(page, last)
            start = (number - 1) * per_page
            return Page(
                object_list=list(results[start : start + per_page]),
                number=number,
                per_page=per_page,
                count=count,
            )
    match = _filter(category=category, min_price=min_price, max_price=max_price)
    if q:
        pattern = {"$regex": re.escape(q), "$options": "i"}
        match["$or"] = [{_column("title"): pattern}, {_column("author"): pattern}]
    ordering = _ORDERINGS.get(sort, _ORDERINGS[SORT_NEWEST])
    result = facet_page(
        collection(Product),
        match=match,
        sort={_column(name.lstrip("-")): -1 if name[0] == "-" else 1 for name in ordering},
        page=page,
        per_page=per_page,
    )
    return Page(
        object_list=[instance_from(Product, row) for row in result.rows],
        number=result.number,
        per_page=per_page,
        count=result.count,
    )


def _column(field_name: str) -> str:
    return column(Product, field_name)


def _filter(*, category: str, min_price: Decimal | None, max_price: Decimal | None) -> dict:
    mongo_filter: dict = {}
    if category:
        mongo_filter[_column("category")] = category
    price = {}
    if min_price is not None:
        price["$gte"] = Decimal128(str(min_price))
    if max_price is not None:
        price["$lte"] = Decimal128(str(max_price))
    if price:
        mongo_filter[_column("price")] = price
    return mongo_filter


def _text_search_filter(
    *, q: str, category: str, min_price: Decimal | None, max_price: Decimal | None
) -> dict:
    # $text stays a top-level key: the form MongoDB documents, and the only
    # one the stand-in understands.
    return {
        "$text": {"$search": q},
        **_filter(category=category, min_price=min_price, max_price=max_price),
    }
