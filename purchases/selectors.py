"""Reads for purchases: single-collection queries on indexed fields."""

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from bson import ObjectId
from bson.errors import InvalidId
from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.utils import timezone

from catalog.models import Product
from catalog.selectors import product_get, product_list_featured
from purchases.archive import purchase_as_live
from purchases.delivery import download_available
from purchases.models import ArchivedPurchase, Purchase, PurchaseStatus
from referral_site.batching import filter_in
from referral_site.db.collections import collection
from referral_site.db.documents import instance_from
from referral_site.money import money


def object_id_or_404(value) -> ObjectId:
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        raise Http404("Not found") from None


def purchase_get_for_user(*, user, purchase_id) -> Purchase:
    """The user's own purchase, live or archived; someone else's (or none) is a 404."""
    pk = object_id_or_404(purchase_id)
    purchase = Purchase.objects.filter(pk=pk, user=user).first()
    if purchase is None:
        # Asked only when the live collection has none: a receipt's usual cost stays one query.
        archived = ArchivedPurchase.objects.filter(pk=pk, user=user).first()
        if archived is None:
            raise Http404("No such purchase")
        purchase = purchase_as_live(archived)
    return purchase


def purchase_first_id_for_user(user_id) -> ObjectId | None:
    """The id of the user's first completed purchase (isFirstPurchase), if any."""
    return (
        Purchase.objects.filter(user_id=user_id, is_first_purchase=True)
        .values_list("pk", flat=True)
        .first()
    )


def purchase_list_for_user(*, user) -> "PurchaseHistory":
    """Newest first, live and archived purchases together; the caller paginates.

    Declined and abandoned attempts are not purchases to the customer: they
    are left out here (staff still see them in the admin).
    """
    return PurchaseHistory(
        live=Purchase.objects.filter(user=user)
        .exclude(status=PurchaseStatus.FAILED)
        .order_by("-created_at", "-pk"),
        archived=ArchivedPurchase.objects.filter(user=user)
        .exclude(status=PurchaseStatus.FAILED)
        .order_by("-created_at", "-pk"),
    )


class PurchaseHistory:
    """Two newest-first querysets as one sequence for Django's Paginator.

    A page [a:b] reads at most b documents of each collection and merges them;
    a purchase in both (an archive run interrupted between its copy and its
    delete) is shown once, from the live collection.
    """

    def __init__(self, *, live, archived):
        self.live, self.archived = live, archived

    def count(self) -> int:
        return self.live.count() + self.archived.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop = index.start or 0, index.stop
        live = list(self.live[:stop]) if stop is not None else list(self.live)
        seen = {purchase.pk for purchase in live}
        archived = self.archived[:stop] if stop is not None else self.archived
        merged = live + [purchase_as_live(a) for a in archived if a.pk not in seen]
        merged.sort(key=lambda p: (p.created_at, p.pk), reverse=True)
        return merged[start:stop]


def purchase_for_product(*, user, product: Product) -> dict | None:
    """The user's latest purchase of the product, as {"pk", "created_at"}, or None.

    What "already bought" means (_bought_pipeline): a completed purchase (not
    a declined, interrupted or refunded one), live or archived. One command.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    return _latest_bought(collection(Purchase).aggregate(_bought_pipeline(user, product.pk)))


def product_for_buyer(*, product_id: str, user) -> tuple[Product | None, dict | None]:
    """The product and the user's latest purchase of it (as purchase_for_product says).

    What the product page and the checkout show first, in one command for a
    signed-in user: the user's latest purchase of it, live and archived, with
    the product appended by $unionWith; each part an indexed query of at most
    one document (no join; on the stand-in, each $unionWith's leading $match
    is a lookup too: referral_site/embedded.py). (None, None) for an unknown
    or malformed id.
    """
    if not getattr(user, "is_authenticated", False):
        return product_get(product_id=product_id), None
    if not ObjectId.is_valid(product_id):
        return None, None
    pk = ObjectId(product_id)
    pipeline = [
        *_bought_pipeline(user, pk),
        {"$unionWith": {"coll": Product._meta.db_table, "pipeline": [{"$match": {"_id": pk}}]}},
    ]
    documents = list(collection(Purchase).aggregate(pipeline))
    product = next((d for d in documents if not d.get(_BOUGHT)), None)
    if product is None:
        return None, None
    return instance_from(Product, product), _latest_bought(d for d in documents if d.get(_BOUGHT))


_BOUGHT = "_bought"  # marks the purchase documents among a product_for_buyer answer


def _bought_pipeline(user, product_id: ObjectId) -> list[dict]:
    """The one place that decides what "already bought" means: the user's latest
    completed purchase of the product in purchases and in purchasesArchive (a
    purchase archived by archive_purchases still counts), at most one document
    from each, marked _bought; _latest_bought picks the later."""
    match = {"userId": user.pk, "productId": product_id, "status": PurchaseStatus.COMPLETED.value}
    latest = [
        {"$match": match},
        {"$sort": {"createdAt": -1, "_id": -1}},
        {"$limit": 1},
        {"$project": {"createdAt": 1, _BOUGHT: {"$literal": True}}},
    ]
    archived = {"coll": ArchivedPurchase._meta.db_table, "pipeline": latest}
    return [*latest, {"$unionWith": archived}]


def _latest_bought(documents) -> dict | None:
    latest = max(documents, key=lambda d: (d["createdAt"], d["_id"]), default=None)
    if latest is None:
        return None
    created = latest["createdAt"]
    if timezone.is_naive(created):
        created = timezone.make_aware(created, UTC)
    return {"pk": latest["_id"], "created_at": created}


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

    match = purchases_counted_as_sales()
    pipeline: list[dict] = [
        {"$match": match},
        # Archived purchases are still sales.
        {"$unionWith": {"coll": ArchivedPurchase._meta.db_table, "pipeline": [{"$match": match}]}},
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
            total_sales=money(document.get("totalSales")),
            total_purchases=int(document.get("totalPurchases") or 0),
            avg_amount=money(document.get("avgAmount")),
            credits_used=int(document.get("creditsUsed") or 0),
            credit_amount=money(document.get("creditAmount")),
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
        avg_amount=money(total_sales / total_purchases if total_purchases else 0),
        credits_used=sum(row.credits_used for row in rows),
        credit_amount=sum((row.credit_amount for row in rows), Decimal("0.00")),
    )
    return ProductSalesReport(rows=rows, totals=totals, order_by=order_by)


@dataclass(frozen=True)
class LibraryItem:
    purchase: Purchase
    product: Product | None

    @property
    def downloadable(self) -> bool:
        return download_available(purchase_status=self.purchase.status, product=self.product)


def purchase_library_for_user(*, user) -> list[LibraryItem]:
    """Every product the user owns (a completed purchase), newest purchase first, once each.

    Three single-collection queries: the user's completed purchases (userId
    index), live and archived, then their products by _id (batched, gap 6).
    """
    owned: dict = {}
    purchases = list(
        Purchase.objects.filter(user=user, status=PurchaseStatus.COMPLETED).order_by("-created_at")
    )
    # And what was bought long ago (archive_purchases): still owned.
    purchases += [
        purchase_as_live(archived)
        for archived in ArchivedPurchase.objects.filter(
            user=user, status=PurchaseStatus.COMPLETED
        ).order_by("-created_at")
    ]
    purchases.sort(key=lambda p: p.created_at, reverse=True)
    for purchase in purchases:
        owned.setdefault(purchase.product_id, purchase)
    products = {p.pk: p for p in filter_in(Product.objects.all(), "pk", list(owned))}
    return [LibraryItem(purchase=p, product=products.get(pid)) for pid, p in owned.items()]


POPULAR_COUNT = 4
POPULAR_CACHE_SECONDS = 600


def products_popular(*, limit: int = POPULAR_COUNT) -> list[Product]:
    """The best-selling products (completed purchases), for the not-found page.

    One aggregation, kept for ten minutes in the cache, so a stream of 404s
    from a crawler costs no more than one every ten minutes; the staff's
    featured products fill in while there are fewer sales.
    """
    key = f"purchases:popular:{limit}"
    ids = cache.get(key)
    if ids is None:
        match = purchases_counted_as_sales()
        pipeline = [
            {"$match": match},
            {
                "$unionWith": {
                    "coll": ArchivedPurchase._meta.db_table,
                    "pipeline": [{"$match": match}],
                }
            },
            {"$group": {"_id": "$productId", "n": {"$sum": 1}}},
            {"$sort": {"n": -1, "_id": 1}},
            {"$limit": limit},
        ]
        collection = connection.get_collection(Purchase._meta.db_table)
        ids = [d["_id"] for d in collection.aggregate(pipeline)]
        cache.set(key, ids, POPULAR_CACHE_SECONDS)
    products = {p.pk: p for p in Product.objects.filter(pk__in=ids)} if ids else {}
    popular = [products[i] for i in ids if i in products]
    if len(popular) < limit:
        popular += [p for p in product_list_featured(limit=limit) if p.pk not in products]
    return popular[:limit]
