"""The embedded server's hot-path operations, timed at two collection sizes.

    .venv/bin/python bench/embedded_hot_paths.py [--engine memory|sqlite] [--sizes 1000,4000]

Each operation is one the site's busiest pages send, on a collection shaped
and indexed as the application's (schema.md):

* users by ``_id`` with ``$in`` (10 ids): the dashboard's names of a page of friends;
* a first purchase claimed (``isFirstPurchase`` set), checked by the partial
  unique index ``{userId, isFirstPurchase}``: the award path;
* a purchase inserted (unique ``idempotencyKey``, the partial index above);
* the newest 8 products by ``createdAt`` (find with sort and limit, and the
  aggregation the ORM sends): the home page;
* a buyer's latest purchase of a product with the product appended by
  ``$unionWith`` (one command): the product page and the checkout;
* one referrer's page of referrals and their counts by status in one
  ``$facet`` (their referrals one in twenty of the collection, 50 to 200):
  the dashboard;
* one user's page of the credit statement and its total in one ``$facet``
  (their entries one in twenty of the ledger): the dashboard.

A time that grows with the collection means the stand-in scans where MongoDB
would use an index (ARCHITECTURE.md section 3 records each accommodation).
"""

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embedded_ops import embedded_server  # noqa: E402

REPEAT = 30


def timed(operation, repeat: int = REPEAT) -> float:
    """Median milliseconds of ``operation(i)`` over ``repeat`` runs."""
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        operation(i)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def seed(db, n: int) -> dict:
    now = dt.datetime.now(dt.UTC)
    users = [{"_id": ObjectId(), "name": f"User {i}", "createdAt": now} for i in range(n)]
    # In small commands: before the accommodations every insert compared its
    # _id with every stored one, and a long command starves the heartbeats.
    for start in range(0, n, 50):
        db.users.insert_many(users[start : start + 50])
    purchases = db.purchases
    purchases.create_index("userId")  # the foreign key's own index, as Django makes it
    purchases.create_index([("userId", ASCENDING), ("createdAt", DESCENDING)])
    purchases.create_index("idempotencyKey", unique=True)
    purchases.create_index(
        [("userId", ASCENDING), ("isFirstPurchase", ASCENDING)],
        unique=True,
        partialFilterExpression={"isFirstPurchase": True},
    )
    # 50 at a time: unaccommodated, each first purchase scans the collection,
    # and a long command would starve the stand-in's heartbeats.
    for start in range(0, n, 50):
        purchases.insert_many(
            [
                {
                    "_id": ObjectId(),
                    "userId": users[i % n]["_id"],
                    "isFirstPurchase": i < n // 2,
                    "status": "completed",
                    "idempotencyKey": f"seed-{i}",
                    "createdAt": now - dt.timedelta(seconds=i),
                }
                for i in range(start, min(n, start + 50))
            ]
        )
    products = db.products
    products.create_index([("featured", DESCENDING), ("createdAt", DESCENDING)])
    products.create_index([("createdAt", DESCENDING)])
    products.insert_many(
        [
            {
                "_id": ObjectId(),
                "title": f"P{i}",
                "featured": False,
                "createdAt": now - dt.timedelta(seconds=i),
            }
            for i in range(max(60, n // 16))
        ]
    )
    referrals = db.referrals
    referrals.create_index("referrerId")
    referrer = ObjectId()
    for start in range(0, n, 50):
        referrals.insert_many(
            [
                {
                    "referrerId": referrer if i % 20 == 0 else users[i % n]["_id"],
                    "referredUserId": ObjectId(),
                    "status": "converted" if i % 3 == 0 else "pending",
                    "createdAt": now - dt.timedelta(seconds=i),
                }
                for i in range(start, min(n, start + 50))
            ]
        )
    ledger = db.creditTransactions
    ledger.create_index("userId")
    ledger.create_index([("userId", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)])
    for start in range(0, n, 50):
        ledger.insert_many(
            [
                {
                    "userId": referrer if i % 20 == 0 else users[i % n]["_id"],
                    "amount": 50,
                    "kind": "referral_reward",
                    "createdAt": now - dt.timedelta(seconds=i),
                }
                for i in range(start, min(n, start + 50))
            ]
        )
    return {
        "users": users,
        "products": [p["_id"] for p in products.find({}, {"_id": 1})],
        "referrer": referrer,
    }


def measure(db, n: int) -> dict[str, float]:
    seeded = seed(db, n)
    users, products = seeded["users"], seeded["products"]
    ids = [u["_id"] for u in users]
    fresh = []  # users with no purchase yet: each claims its first purchase once

    def find_in(i):
        list(db.users.find({"_id": {"$in": ids[i * 10 % n : i * 10 % n + 10]}}, {"name": 1}))

    def insert(i):
        user = ObjectId()
        purchase = {
            "_id": ObjectId(),
            "userId": user,
            "isFirstPurchase": False,
            "status": "pending",
            "idempotencyKey": f"new-{user}",
            "createdAt": dt.datetime.now(dt.UTC),
        }
        db.purchases.insert_one(purchase)
        fresh.append(purchase["_id"])

    def claim_first(i):
        db.purchases.update_one(
            {"_id": fresh[i], "status": {"$in": ["pending"]}},
            {"$set": {"status": "completed", "isFirstPurchase": True}},
        )

    def newest_find(i):
        list(db.products.find({}).sort([("featured", -1), ("createdAt", -1)]).limit(8))

    def newest_aggregate(i):
        list(db.products.aggregate([{"$sort": {"featured": -1, "createdAt": -1}}, {"$limit": 8}]))

    def product_for_buyer(i):
        product = products[i % len(products)]
        bought = {"userId": ids[i % n], "productId": product, "status": "completed"}
        latest = [{"$sort": {"createdAt": -1, "_id": -1}}, {"$limit": 1}]
        pipeline = [
            {"$match": bought},
            *latest,
            {"$unionWith": {"coll": "products", "pipeline": [{"$match": {"_id": product}}]}},
        ]
        assert len(list(db.purchases.aggregate(pipeline))) >= 1

    def referrals_page(i):
        # referrals.selectors.referral_dashboard_referrals, through facet_page.
        pipeline = [
            {"$match": {"referrerId": seeded["referrer"]}},
            {"$sort": {"createdAt": -1, "_id": -1}},
            {
                "$facet": {
                    "rows": [{"$skip": 0}, {"$limit": 10}],
                    "statuses": [{"$group": {"_id": "$status", "n": {"$sum": 1}}}],
                }
            },
        ]
        assert len(next(db.referrals.aggregate(pipeline))["rows"]) == 10

    def statement_page(i):
        # credits.selectors.credit_statement, through facet_page.
        pipeline = [
            {"$match": {"userId": seeded["referrer"]}},
            {"$sort": {"createdAt": -1, "_id": -1}},
            {"$facet": {"rows": [{"$skip": 0}, {"$limit": 10}], "count": [{"$count": "n"}]}},
        ]
        assert next(db.creditTransactions.aggregate(pipeline))["count"][0]["n"] == n // 20

    return {
        "users by _id $in (10)": timed(find_in),
        "insert a purchase": timed(insert),
        "claim a first purchase": timed(claim_first),
        "newest 8 products (find)": timed(newest_find),
        "newest 8 products (aggregate)": timed(newest_aggregate),
        "a purchase and its product ($unionWith)": timed(product_for_buyer),
        "a referrer's referrals page and counts ($facet)": timed(referrals_page),
        "a user's statement page and total ($facet)": timed(statement_page),
    }


def run(engine: str, n: int) -> dict[str, float]:
    with embedded_server(engine) as uri, MongoClient(uri) as client:
        return measure(client.hot, n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--sizes", default="1000,4000", help="documents per collection")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: run(args.engine, n) for n in sizes}
    header = " | ".join(f"{n:,} docs" for n in sizes)
    print(f"| operation ({args.engine} engine), median ms | {header} | growth |")
    print("|---|" + "---:|" * (len(sizes) + 1))
    for name in results[sizes[0]]:
        values = [results[n][name] for n in sizes]
        growth = values[-1] / values[0] if values[0] else float("nan")
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + f" | x{growth:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
