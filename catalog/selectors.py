"""Reads for the catalog. Single-collection queries on indexed fields only.

Every catalog page costs a fixed number of database commands, whatever the size
of the catalog: no joins, no per-product queries, and paging by count + slice.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bson import Decimal128, ObjectId
from django.db import connection
from django.db.models import QuerySet
from pymongo.errors import OperationFailure

from catalog.models import Product
from purchases.models import Purchase, PurchaseStatus

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

# How long a process trusts what it learnt about the title text index. A new
# or dropped index is noticed within this time without a restart; a dropped
# one is also noticed at once by the failing search (see product_search).
TEXT_INDEX_RECHECK_SECONDS = 300.0
# Queries of plain words only go to the text index; anything else ("C++",
# "e-book", quotes, which $text would read as operators) is a substring match.
_WHOLE_WORDS = re.compile(r"\w+(?: \w+)*")

CENTS = Decimal("0.01")


def product_list_featured(*, limit: int = FEATURED_COUNT) -> list[Product]:
    return list(Product.objects.order_by("-created_at")[:limit])


def product_get(*, product_id: str) -> Product | None:
    """The product with this id, or None when the id is unknown or not an ObjectId."""
    if not ObjectId.is_valid(product_id):
        return None
    return Product.objects.filter(pk=ObjectId(product_id)).first()


def purchase_for_product(*, user, product: Product) -> dict | None:
    """The user's latest purchase of the product, as {"pk", "created_at"}, or None.

    The one place that decides what "already bought" means: a completed
    purchase (not a declined, interrupted or refunded one). One query on the
    purchases collection, by userId and productId.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Purchase.objects.filter(user=user, product=product, status=PurchaseStatus.COMPLETED)
        .order_by("-created_at")
        .values("pk", "created_at")
        .first()
    )


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

    Title search (``q``):

    * plain words, and the products collection has its text index: a MongoDB
      ``$text`` search, which matches titles containing any of the words
      (case- and accent-insensitive; real MongoDB also stems them and ignores
      stop words);
    * when that finds nothing (a word still being typed, such as "clea"), or
      the query has punctuation, or there is no text index: a case-insensitive
      substring match on the title.

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
        if _WHOLE_WORDS.fullmatch(q) and products_have_text_index():
            results = TextSearchResults(
                mongo_filter=_text_search_filter(
                    q=q, category=category, min_price=min_price, max_price=max_price
                ),
                ordering=ordering,
            )
            try:
                if results.count():
                    return results
            except OperationFailure:
                # The index went away after we looked (dropped, or being
                # rebuilt): search without it, and look again next time.
                forget_text_index()
        queryset = queryset.filter(title__icontains=q)
    return queryset.order_by(*ordering)


class TextSearchResults:
    """Products matching a ``$text`` query, with count() and slicing for Paginator.

    Runs the ``count`` and ``find`` commands rather than an ORM query: every
    ORM read is an aggregation, and the embedded stand-in server accepts
    ``$text`` only in find and count (real MongoDB accepts it in both). A page
    costs three commands: count, find the page's ids, fetch those products.
    """

    ordered = True  # tells Paginator the order is deliberate

    def __init__(self, *, mongo_filter: dict, ordering: tuple[str, ...]):
        self.mongo_filter = mongo_filter
        self.sort = {_column(name.lstrip("-")): -1 if name.startswith("-") else 1
                     for name in ordering}
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            reply = connection.get_database().command(
                {"count": Product._meta.db_table, "query": self.mongo_filter}
            )
            self._count = int(reply["n"])
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[Product]:
        if not isinstance(key, slice) or key.stop is None or key.step not in (None, 1):
            raise TypeError("TextSearchResults supports bounded slices only")
        start = key.start or 0
        limit = key.stop - start
        if limit <= 0:
            return []
        reply = connection.get_database().command(
            {
                "find": Product._meta.db_table,
                "filter": self.mongo_filter,
                "sort": self.sort,
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
        by_id = {product.pk: product for product in Product.objects.filter(pk__in=ids)}
        return [by_id[pk] for pk in ids if pk in by_id]


def _column(field_name: str) -> str:
    if field_name == "pk":
        return "_id"
    return Product._meta.get_field(field_name).column


def _text_search_filter(
    *, q: str, category: str, min_price: Decimal | None, max_price: Decimal | None
) -> dict:
    # $text stays a top-level key: the form MongoDB documents, and the only
    # one the stand-in understands.
    mongo_filter: dict = {"$text": {"$search": q}}
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


_text_index_seen: tuple[float, bool] | None = None


def products_have_text_index() -> bool:
    """Whether the products collection has a text index; asked once per interval.

    A cached fact about the schema, not request state: every process finds
    out for itself with one listIndexes command.
    """
    global _text_index_seen
    now = time.monotonic()
    if _text_index_seen is None or now - _text_index_seen[0] > TEXT_INDEX_RECHECK_SECONDS:
        indexes = connection.get_collection(Product._meta.db_table).index_information()
        has_text = any(
            direction == "text"
            for index in indexes.values()
            for _field, direction in index.get("key", ())
        )
        _text_index_seen = (now, has_text)
    return _text_index_seen[1]


def forget_text_index() -> None:
    global _text_index_seen
    _text_index_seen = None


# --------------------------------------------------------------------------
# Product analytics (schema.md, "Product Analytics")
# --------------------------------------------------------------------------


def purchases_counted_as_sales() -> dict:
    """The $match of the purchases that count as sales in the analytics.

    Completed purchases only: declined and interrupted ones moved no money,
    and refunded ones were given back.
    """
    return {"status": PurchaseStatus.COMPLETED.value}


# Report column -> field of the $group output.
ANALYTICS_COLUMNS = {
    "product_name": "productName",
    "total_sales": "totalSales",
    "total_purchases": "totalPurchases",
    "avg_amount": "avgAmount",
    "credits_used": "creditsUsed",
    "credit_amount": "creditAmount",
}
ANALYTICS_DEFAULT_ORDER = "-total_sales"


@dataclass(frozen=True)
class ProductSalesRow:
    product_id: ObjectId | None
    product_name: str
    total_sales: Decimal
    total_purchases: int
    avg_amount: Decimal
    credits_used: int
    credit_amount: Decimal


@dataclass(frozen=True)
class ProductSalesReport:
    rows: list[ProductSalesRow]
    totals: ProductSalesRow
    order_by: str


def product_sales_report(*, order_by: str = ANALYTICS_DEFAULT_ORDER) -> ProductSalesReport:
    """Per product: sales, purchases, average amount paid and credits applied.

    One aggregation on the purchases collection, grouped by productId, using
    the denormalised productName instead of a $lookup on products. Products
    without purchases do not appear. ``order_by`` is a column of
    ANALYTICS_COLUMNS, "-" for descending; anything else gives the default.
    """
    if order_by.lstrip("-") not in ANALYTICS_COLUMNS:
        order_by = ANALYTICS_DEFAULT_ORDER
    sort_field = ANALYTICS_COLUMNS[order_by.lstrip("-")]
    direction = -1 if order_by.startswith("-") else 1

    pipeline: list[dict] = []
    if match := purchases_counted_as_sales():
        pipeline.append({"$match": match})
    pipeline += [
        # Newest first, so $first takes the product's latest name.
        {"$sort": {"createdAt": -1}},
        {
            "$group": {
                "_id": "$productId",
                "productName": {"$first": "$productName"},
                "totalSales": {"$sum": "$amount"},
                "totalPurchases": {"$sum": 1},
                "avgAmount": {"$avg": "$amount"},
                "creditsUsed": {"$sum": "$creditsUsed"},
                "creditAmount": {"$sum": "$creditAmount"},
            }
        },
        {"$sort": {sort_field: direction, "_id": 1}},
    ]
    documents = connection.get_collection(Purchase._meta.db_table).aggregate(pipeline)
    rows = [
        ProductSalesRow(
            product_id=document["_id"],
            product_name=document.get("productName") or "",
            total_sales=_money(document.get("totalSales")),
            total_purchases=int(document.get("totalPurchases") or 0),
            avg_amount=_money(document.get("avgAmount")),
            credits_used=int(document.get("creditsUsed") or 0),
            credit_amount=_money(document.get("creditAmount")),
        )
        for document in documents
    ]
    total_sales = sum((row.total_sales for row in rows), Decimal("0.00"))
    total_purchases = sum(row.total_purchases for row in rows)
    totals = ProductSalesRow(
        product_id=None,
        product_name="Total",
        total_sales=total_sales,
        total_purchases=total_purchases,
        # The average over all purchases, not the average of the averages.
        avg_amount=_money(total_sales / total_purchases if total_purchases else 0),
        credits_used=sum(row.credits_used for row in rows),
        credit_amount=sum((row.credit_amount for row in rows), Decimal("0.00")),
    )
    return ProductSalesReport(rows=rows, totals=totals, order_by=order_by)


def _money(value) -> Decimal:
    """Decimal128 (or a number, or nothing) as Decimal dollars and cents."""
    if value is None:
        value = Decimal("0")
    elif isinstance(value, Decimal128):
        value = value.to_decimal()
    elif not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)
