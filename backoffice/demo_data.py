"""What seed_demo and the benchmark create, found by their marks, and its removal.

Marks (schema.md, "Maintenance Tasks": clean up test data):

* seed_demo: the demo accounts (admin@example.com, customer@example.com) and
  the demo catalog (catalog.demo.demo_products() titles), with their covers
  and files in GridFS;
* bench/run.py: accounts ``...@bench.test``, products "Bench product N",
  purchases with idempotencyKey ``bench:...``.

Everything that belongs to a test account goes with it: its purchases (live
and archived), referrals made or received, ledger entries, downloads,
payment events of its purchases, reward counters and admin log lines. A demo
or benchmark product that a real customer bought stays (their purchase still
names it). Deletes are by _id in batches, so running it again after an
interruption finishes the job.
"""

import re
from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry

from accounts.models import User
from catalog.demo import demo_products
from catalog.models import Product
from credits.models import CreditTransaction
from purchases.models import ArchivedPurchase, Download, PaymentEvent, Purchase
from referral_site.batching import filter_in
from referral_site.db.collections import collection
from referrals.models import MonthlyRewardCount, Referral

# seed_demo's accounts (documented in the README).
DEMO_STAFF_EMAIL = "admin@example.com"
DEMO_STAFF_PASSWORD = "demo-admin-pass"  # noqa: S105 - documented demo credentials
DEMO_CUSTOMER_EMAIL = "customer@example.com"
DEMO_CUSTOMER_PASSWORD = "demo-customer-pass"  # noqa: S105 - documented demo credentials
BENCH_EMAIL = re.compile(r"@bench\.test$")
BENCH_PRODUCT = re.compile(r"^Bench product \d+$")
BENCH_PURCHASE_KEY = re.compile(r"^bench:")
BATCH = 400  # ids per $in (gap 6)


@dataclass
class Purge:
    removed: dict[str, int] = field(default_factory=dict)
    kept_products: int = 0  # bought by a real customer

    def add(self, name: str, count: int) -> None:
        if count:
            self.removed[name] = self.removed.get(name, 0) + count


def _chunks(ids: list):
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def seeded_user_ids() -> list:
    users = collection(User)
    found = [
        row["_id"]
        for row in users.find(
            {
                "$or": [
                    {"email": {"$in": [DEMO_STAFF_EMAIL, DEMO_CUSTOMER_EMAIL]}},
                    {"email": BENCH_EMAIL},
                ]
            },
            {"_id": 1},
        )
    ]
    return sorted(found)


def seeded_product_ids() -> list:
    titles = [product["title"] for product in demo_products()]
    return sorted(
        row["_id"]
        for row in collection(Product).find(
            {"$or": [{"title": {"$in": titles}}, {"title": BENCH_PRODUCT}]}, {"_id": 1}
        )
    )


def _delete(model, filter_: dict, purge: Purge) -> None:
    purge.add(model._meta.db_table, collection(model).delete_many(filter_).deleted_count)


def purge_test_data(*, dry_run: bool = False) -> Purge:
    purge = Purge()
    users = seeded_user_ids()
    products = seeded_product_ids()
    bench_purchases = [
        row["_id"]
        for row in collection(Purchase).find({"idempotencyKey": BENCH_PURCHASE_KEY}, {"_id": 1})
    ]
    if dry_run:
        purge.add("users", len(users))
        purge.add("products", len(products))
        purge.add("purchases (benchmark)", len(bench_purchases))
        return purge

    for chunk in _chunks(users):
        purchase_ids = [
            row["_id"]
            for model in (Purchase, ArchivedPurchase)
            for row in collection(model).find({"userId": {"$in": chunk}}, {"_id": 1})
        ]
        for ids in _chunks(purchase_ids):
            _delete(PaymentEvent, {"purchaseId": {"$in": ids}}, purge)
        _delete(Download, {"userId": {"$in": chunk}}, purge)
        _delete(CreditTransaction, {"userId": {"$in": chunk}}, purge)
        _delete(
            Referral,
            {"$or": [{"referrerId": {"$in": chunk}}, {"referredUserId": {"$in": chunk}}]},
            purge,
        )
        _delete(
            MonthlyRewardCount,
            {"$or": [{"key": {"$regex": f"^{user_id}:"}} for user_id in chunk]},
            purge,
        )
        _delete(Purchase, {"userId": {"$in": chunk}}, purge)
        _delete(ArchivedPurchase, {"userId": {"$in": chunk}}, purge)
        purge.add(
            "django_admin_log",
            LogEntry.objects.filter(user_id__in=chunk).delete()[0],
        )
        # Last: a run interrupted before this line finds the same users again.
        _delete(User, {"_id": {"$in": chunk}}, purge)
    for ids in _chunks(bench_purchases):
        _delete(PaymentEvent, {"purchaseId": {"$in": ids}}, purge)
        _delete(Purchase, {"_id": {"$in": ids}}, purge)

    bought = set()
    for model in (Purchase, ArchivedPurchase):
        for chunk in _chunks(products):
            bought |= set(collection(model).distinct("productId", {"productId": {"$in": chunk}}))
    purge.kept_products = len(bought)
    for product in filter_in(Product.objects.all(), "pk", [p for p in products if p not in bought]):
        # The stored cover and file go from GridFS with the product.
        for stored in (product.cover, product.file):
            if stored:
                stored.delete(save=False)
        purge.add("products", collection(Product).delete_one({"_id": product.pk}).deleted_count)
    return purge
