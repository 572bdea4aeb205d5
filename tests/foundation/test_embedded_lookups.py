"""The stand-in answers the hot paths' reads and unique checks by lookup.

Each accommodation (referral_site/embedded.py, ARCHITECTURE.md section 3) is
checked twice: over the wire on both engines, for the same answers MongoDB
gives (duplicates still refused, extra conditions still applied, numeric ids
still compared by value); and in-process on the engine itself, by counting
the stored documents it reads, which must not grow with the collection.
"""

import asyncio

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from referral_site import embedded

FIRST = {"isFirstPurchase": True}


def purchases(client):
    collection = client.lookups.purchases
    collection.create_index("idempotencyKey", unique=True)
    collection.create_index("userId")  # the foreign key's index, as Django makes it
    collection.create_index(
        [("userId", 1), ("isFirstPurchase", 1)], unique=True, partialFilterExpression=FIRST
    )
    return collection


def test_id_in_reads_exactly_the_listed_documents(engine_client):
    users = engine_client.lookups.users
    ids = [ObjectId() for _ in range(6)]
    users.insert_many([{"_id": i, "n": n, "even": n % 2 == 0} for n, i in enumerate(ids)])

    found = users.find({"_id": {"$in": [ids[4], ids[1], ids[2], ObjectId()]}})
    assert [d["n"] for d in found] == [1, 2, 4]  # natural order, unknown ids ignored
    both = users.find({"_id": {"$in": ids[:4]}, "even": True}, {"n": 1})
    assert [d["n"] for d in both] == [0, 2]  # the rest of the filter still applies
    assert users.count_documents({"_id": {"$in": ids}}) == 6


def test_numeric_ids_are_still_compared_by_value(engine_client):
    numbers = engine_client.lookups.numbers
    numbers.insert_one({"_id": 1.0})
    with pytest.raises(DuplicateKeyError):
        numbers.insert_one({"_id": 1})
    assert [d["_id"] for d in numbers.find({"_id": {"$in": [1]}})] == [1.0]


def test_an_objectid_is_refused_twice(engine_client):
    users = engine_client.lookups.users
    user_id = ObjectId()
    users.insert_one({"_id": user_id})
    with pytest.raises(DuplicateKeyError):
        users.insert_one({"_id": user_id})
    assert users.count_documents({}) == 1


def test_one_first_purchase_per_user_on_insert_and_on_update(engine_client):
    collection = purchases(engine_client)
    ada, bob = ObjectId(), ObjectId()
    collection.insert_many(
        [
            {"userId": ada, "isFirstPurchase": True, "idempotencyKey": "a1"},
            {"userId": ada, "isFirstPurchase": False, "idempotencyKey": "a2"},
            {"userId": bob, "isFirstPurchase": False, "idempotencyKey": "b1"},
        ]
    )
    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"userId": ada, "isFirstPurchase": True, "idempotencyKey": "a3"})
    with pytest.raises(DuplicateKeyError):
        collection.update_one({"idempotencyKey": "a2"}, {"$set": FIRST})
    # Another buyer's first purchase, and a second non-first one, are fine.
    collection.update_one({"idempotencyKey": "b1"}, {"$set": FIRST})
    collection.insert_one({"userId": ada, "isFirstPurchase": False, "idempotencyKey": "a4"})
    # Updating the first purchase itself does not collide with itself.
    collection.update_one({"idempotencyKey": "a1"}, {"$set": {"status": "completed", **FIRST}})
    assert collection.count_documents(FIRST) == 2
    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"userId": bob, "isFirstPurchase": False, "idempotencyKey": "b1"})


def test_sorted_limited_finds_answer_as_a_full_sort(engine_client):
    import datetime as dt

    products = engine_client.lookups.products
    products.create_index([("featured", -1), ("createdAt", -1)])
    products.create_index([("price", 1)])
    start = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - naive UTC, as pymongo reads it
    documents = [
        {
            "_id": n,
            "featured": n % 7 == 0,
            "createdAt": start + dt.timedelta(minutes=n % 11),  # many ties
            "price": n % 5,
        }
        for n in range(60)
    ]
    products.insert_many(documents)

    def expected(key, limit, skip=0):
        return [d["_id"] for d in sorted(documents, key=key)][skip : skip + limit]

    newest = products.find({}).sort([("featured", -1), ("createdAt", -1)]).limit(8)
    got = list(newest)
    assert [(d["featured"], d["createdAt"]) for d in got] == [
        (d["featured"], d["createdAt"])
        for d in sorted(documents, key=lambda d: (not d["featured"], -d["createdAt"].timestamp()))
    ][:8]
    # The index read backwards, with a skip, and a tie-breaker outside the index.
    oldest = products.find({}).sort([("featured", 1), ("createdAt", 1), ("_id", 1)]).limit(5)
    assert [d["_id"] for d in oldest] == expected(
        lambda d: (d["featured"], d["createdAt"], d["_id"]), 5
    )
    cheapest = products.find({}).sort([("price", 1)]).skip(10).limit(4)
    assert [d["price"] for d in cheapest] == sorted(d["price"] for d in documents)[10:14]
    by_price = list(products.find({}).sort([("price", -1), ("_id", 1)]).skip(3).limit(4))
    assert [d["_id"] for d in by_price] == expected(lambda d: (-d["price"], d["_id"]), 4, 3)
    # A filter keeps the ordinary path, with the same answers.
    featured = products.find({"featured": True}).sort([("createdAt", -1)]).limit(3)
    assert all(d["featured"] for d in featured)


def _facet(owner, sort, skip=0, limit=10, by="status"):
    return [
        {"$match": {"ownerId": owner}},
        {"$sort": sort},
        {
            "$facet": {
                "rows": [{"$skip": skip}, {"$limit": limit}],
                "count": [{"$count": "n"}],
                "groups": [{"$group": {"_id": f"${by}", "n": {"$sum": 1}}}],
            }
        },
    ]


def test_a_facet_page_answers_as_the_full_pipeline(engine_client, request):
    """A page with its total and counts by status, as the dashboard and statement ask."""
    import datetime as dt

    ledger = engine_client.lookups.ledger
    ledger.create_index("ownerId")
    ledger.create_index([("ownerId", 1), ("createdAt", -1), ("_id", -1)])
    start = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - naive UTC, as pymongo reads it
    owner, other = ObjectId(), ObjectId()
    documents = [
        {
            "_id": ObjectId(),
            "ownerId": owner if n % 4 else other,
            "createdAt": start + dt.timedelta(minutes=n % 9),  # many ties: _id decides
            "status": ["pending", "converted", "reversed"][n % 3],
            "score": n % 2 if n % 5 else float(n % 2),  # 1 and 1.0 are one group
        }
        for n in range(90)
    ]
    documents[1].pop("status")  # counted under null, as MongoDB groups a missing field
    ledger.insert_many(documents)
    mine = [d for d in documents if d["ownerId"] == owner]

    def expected(reverse, skip, limit=10):
        ordered = sorted(mine, key=lambda d: (d["createdAt"], d["_id"]), reverse=reverse)
        return [d["_id"] for d in ordered][skip : skip + limit]

    statuses = {}
    for d in mine:
        statuses[d.get("status")] = statuses.get(d.get("status"), 0) + 1
    for sort, reverse in (
        ({"createdAt": -1, "_id": -1}, True),
        ({"createdAt": 1, "_id": 1}, False),
    ):
        for skip in (0, 10, 60, 100):
            (answer,) = ledger.aggregate(_facet(owner, sort, skip))
            assert [d["_id"] for d in answer["rows"]] == expected(reverse, skip)
            assert answer["count"] == [{"n": len(mine)}]
            assert {g["_id"]: g["n"] for g in answer["groups"]} == statuses
    # Whole documents come back, not just their keys.
    (answer,) = ledger.aggregate(_facet(owner, {"createdAt": -1, "_id": -1}, limit=1))
    assert answer["rows"][0] == next(d for d in mine if d["_id"] == expected(True, 0)[0])
    # Numbers group across their types, as MongoDB groups them.
    (answer,) = ledger.aggregate(_facet(owner, {"createdAt": -1, "_id": -1}, by="score"))
    assert sorted(g["n"] for g in answer["groups"]) == sorted(
        [sum(1 for d in mine if d["score"] == 0), sum(1 for d in mine if d["score"] == 1)]
    )
    # No documents: no groups. MongoDB's $count gives no document either; both
    # engines' own $count gives {n: 0} (ARCHITECTURE.md section 3), the memory
    # engine's index path gives MongoDB's answer. The dashboard reads both as 0.
    (answer,) = ledger.aggregate(_facet(ObjectId(), {"createdAt": -1, "_id": -1}))
    engine = request.node.callspec.params["engine_client"]
    assert answer == {
        "rows": [],
        "count": [] if engine == "memory" else [{"n": 0}],
        "groups": [],
    }
    # A sort key missing from one document: it sorts first, as MongoDB sorts null.
    ledger.insert_one({"_id": ObjectId(), "ownerId": owner, "status": "pending"})
    (answer,) = ledger.aggregate(_facet(owner, {"createdAt": 1, "_id": 1}, limit=2))
    assert "createdAt" not in answer["rows"][0]
    assert answer["count"] == [{"n": len(mine) + 1}]


def test_union_with_a_leading_match_answers_as_a_full_union(engine_client):
    db = engine_client.lookups
    products = [ObjectId() for _ in range(5)]
    db.products.insert_many([{"_id": p, "title": f"P{n}"} for n, p in enumerate(products)])
    db.purchases.insert_many([{"productId": p, "n": n} for n, p in enumerate(products)])

    def union(*stages):
        return db.purchases.aggregate([{"$match": {"n": 0}}, {"$project": {"n": 1}}, *stages])

    one = union(
        {"$unionWith": {"coll": "products", "pipeline": [{"$match": {"_id": products[3]}}]}}
    )
    assert [d.get("title", d.get("n")) for d in one] == [0, "P3"]
    # Two unions of one collection each get their own documents.
    two = union(
        {"$unionWith": {"coll": "products", "pipeline": [{"$match": {"_id": products[1]}}]}},
        {"$unionWith": {"coll": "products", "pipeline": [{"$match": {"title": "P4"}}]}},
    )
    assert [d.get("title", d.get("n")) for d in two] == [0, "P1", "P4"]
    # Without a leading $match, or also joined by $lookup: the whole collection.
    everything = union({"$unionWith": {"coll": "products", "pipeline": [{"$sort": {"title": -1}}]}})
    assert [d.get("title", d.get("n")) for d in everything] == [0, "P4", "P3", "P2", "P1", "P0"]
    joined = union(
        {"$unionWith": {"coll": "products", "pipeline": [{"$match": {"_id": products[2]}}]}},
        {"$lookup": {"from": "products", "pipeline": [{"$count": "n"}], "as": "all"}},
    )
    assert [d["all"][0]["n"] for d in joined] == [5, 5]


def test_plain_values_sort_and_match_as_mongodb_orders_them(engine_client):
    import datetime as dt

    values = engine_client.lookups.values
    start = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - naive UTC, as pymongo reads it
    ids = sorted(ObjectId() for _ in range(3))
    mixed = [
        "b", "B", "a", "é", "ab", "",  # strings: by code point ("B" < "a" < "é")
        ids[2], ids[0], ids[1],
        start + dt.timedelta(days=1), start,
        2, 1.5, True, None, {"x": 1},
    ]  # fmt: skip
    values.insert_many([{"n": n, "v": v} for n, v in enumerate(mixed)])

    ascending = [d["v"] for d in values.find({}, {"v": 1}).sort([("v", 1), ("n", 1)])]
    # MongoDB's type order: null, numbers, strings, objects, ObjectId, bool, dates.
    assert ascending == [
        None, 1.5, 2, "", "B", "a", "ab", "b", "é", {"x": 1},
        ids[0], ids[1], ids[2], True, start, start + dt.timedelta(days=1),
    ]  # fmt: skip
    descending = [d["v"] for d in values.find({}, {"v": 1}).sort([("v", -1), ("n", 1)])]
    assert descending == ascending[::-1]
    assert [d["n"] for d in values.find({"v": "a"})] == [2]
    assert [d["n"] for d in values.find({"v": ids[1]})] == [8]
    assert [d["n"] for d in values.find({"v": start})] == [10]
    assert [d["v"] for d in values.find({"v": {"$gt": "a", "$type": "string"}}).sort("v", 1)] == [
        "ab", "b", "é",
    ]  # fmt: skip
    assert values.count_documents({"v": {"$gte": start}}) == 2  # dates only: no cross-type match


# -- in-process: how many stored documents each operation reads -------------


def _run(coro):
    return asyncio.run(coro)


class Reads:
    """Counts the stored documents the memory engine reads while active."""

    def __init__(self, monkeypatch):
        from mongoeco.engines.memory import MemoryEngine

        self.count = 0
        borrow = MemoryEngine._borrow_storage_document

        def counting(engine, data):
            self.count += 1
            return borrow(engine, data)

        monkeypatch.setattr(MemoryEngine, "_borrow_storage_document", counting)


@pytest.fixture
def memory_db():
    from mongoeco import AsyncMongoClient
    from mongoeco.engines.memory import MemoryEngine

    embedded.install_accommodations()
    return AsyncMongoClient(MemoryEngine()).lookups


@pytest.mark.parametrize("size", [200, 800])
def test_memory_engine_reads_only_the_listed_ids(memory_db, monkeypatch, size):
    ids = [ObjectId() for _ in range(size)]

    async def scenario():
        await memory_db.users.insert_many([{"_id": i, "name": "x"} for i in ids])
        reads = Reads(monkeypatch)
        found = await memory_db.users.find({"_id": {"$in": ids[:10]}}).to_list()
        return len(found), reads.count

    found, read = _run(scenario())
    assert found == 10
    assert read <= 20  # the ten documents, not the collection


@pytest.mark.parametrize("size", [200, 800])
def test_memory_engine_checks_unique_indexes_by_key(memory_db, monkeypatch, size):
    buyers = [ObjectId() for _ in range(size)]

    async def scenario():
        collection = memory_db.purchases
        await collection.create_index("idempotencyKey", unique=True)
        await collection.create_index(
            [("userId", 1), ("isFirstPurchase", 1)], unique=True, partial_filter_expression=FIRST
        )
        await collection.insert_many(
            [
                {"userId": b, "isFirstPurchase": True, "idempotencyKey": str(n)}
                for n, b in enumerate(buyers)
            ]
        )
        reads = Reads(monkeypatch)
        buyer = ObjectId()
        await collection.insert_one(
            {"_id": ObjectId(), "userId": buyer, "isFirstPurchase": False, "idempotencyKey": "x"}
        )
        await collection.update_one({"idempotencyKey": "x"}, {"$set": FIRST})
        return reads.count

    assert _run(scenario()) <= 10


def test_sqlite_engine_checks_ids_and_first_purchases_by_key(tmp_path, monkeypatch):
    from mongoeco import AsyncMongoClient
    from mongoeco.engines.sqlite import SQLiteEngine

    embedded.install_accommodations()
    scans = []
    load = SQLiteEngine._load_documents

    def counting(engine, *args, **kwargs):
        scans.append(args)
        return load(engine, *args, **kwargs)

    async def scenario():
        async with AsyncMongoClient(SQLiteEngine(str(tmp_path / "data.sqlite"))) as client:
            users = client.lookups.users
            await users.insert_many([{"_id": ObjectId(), "n": 0} for _ in range(50)])
            buying = client.lookups.purchases
            await buying.create_index("userId")
            await buying.create_index(
                [("userId", 1), ("isFirstPurchase", 1)],
                unique=True,
                partial_filter_expression=FIRST,
            )
            buyer = ObjectId()
            await buying.insert_many(
                [{"userId": ObjectId(), "isFirstPurchase": True} for _ in range(50)]
                + [{"userId": buyer, "isFirstPurchase": True}]
            )
            monkeypatch.setattr(SQLiteEngine, "_load_documents", counting)
            user_id = ObjectId()
            await users.insert_one({"_id": user_id, "n": 0})
            await users.update_one({"_id": user_id}, {"$set": {"n": 1}})
            purchase_id = ObjectId()
            await buying.insert_one({"_id": purchase_id, "userId": ObjectId()})
            await buying.update_one({"_id": purchase_id}, {"$set": FIRST})
            second = ObjectId()
            await buying.insert_one({"_id": second, "userId": buyer, "isFirstPurchase": False})
            with pytest.raises(DuplicateKeyError):
                await buying.update_one({"_id": second}, {"$set": FIRST})
            return await users.count_documents({"n": 1}), await buying.count_documents(FIRST)

    assert _run(scenario()) == (1, 52)
    # Neither the inserts nor the updates (first purchases claimed and refused) read
    # every document.
    assert scans == []


@pytest.mark.parametrize("size", [200, 800])
def test_memory_engine_reads_the_top_of_the_index_for_a_sorted_limit(memory_db, monkeypatch, size):
    import datetime as dt

    start = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - naive UTC, as pymongo reads it

    async def scenario():
        products = memory_db.products
        await products.create_index([("featured", -1), ("createdAt", -1)])
        await products.insert_many(
            [
                {"featured": n == 3, "createdAt": start + dt.timedelta(seconds=n)}
                for n in range(size)
            ]
        )
        reads = Reads(monkeypatch)
        cursor = products.find({}).sort([("featured", -1), ("createdAt", -1)]).limit(8)
        newest = await cursor.to_list()
        return [d["createdAt"] for d in newest], reads.count

    found, read = _run(scenario())
    seconds = [int((moment - start).total_seconds()) for moment in found]
    assert seconds == [3, *range(size - 1, size - 8, -1)]
    assert read <= 20  # the top of the index, not the collection


@pytest.mark.parametrize("size", [200, 800])
def test_memory_engine_reads_only_the_matched_documents_of_a_union(memory_db, monkeypatch, size):
    products = [ObjectId() for _ in range(size)]

    async def scenario():
        await memory_db.products.insert_many([{"_id": p, "title": "x"} for p in products])
        await memory_db.purchases.insert_one({"productId": products[7]})
        reads = Reads(monkeypatch)
        pipeline = [
            {"$match": {"productId": products[7]}},
            {"$unionWith": {"coll": "products", "pipeline": [{"$match": {"_id": products[7]}}]}},
        ]
        found = await (await memory_db.purchases.aggregate(pipeline)).to_list()
        return len(found), reads.count

    found, read = _run(scenario())
    assert found == 2
    assert read <= 20  # the product and the purchase, not the catalog


class Yields:
    """Counts the documents the memory engine's scans hand on while active."""

    def __init__(self, monkeypatch):
        from mongoeco.engines.memory import MemoryEngine

        self.count = 0
        scan = MemoryEngine.scan_find_semantics

        def counting(engine, *args, **kwargs):
            async def documents():
                async for document in scan(engine, *args, **kwargs):
                    self.count += 1
                    yield document

            return documents()

        monkeypatch.setattr(MemoryEngine, "scan_find_semantics", counting)


@pytest.mark.parametrize("size", [200, 800])
def test_memory_engine_reads_only_the_page_of_a_facet(memory_db, monkeypatch, size):
    """A referrer's page and counts: their documents' keys are read, only the page is decoded."""
    import datetime as dt

    start = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - naive UTC, as pymongo reads it
    owner = ObjectId()

    async def scenario():
        referrals = memory_db.referrals
        await referrals.create_index("ownerId")
        await referrals.insert_many(
            [
                {
                    "ownerId": owner,
                    "createdAt": start + dt.timedelta(minutes=n),
                    "status": "converted" if n % 2 else "pending",
                }
                for n in range(size)
            ]
        )
        handed_on = Yields(monkeypatch)
        pipeline = _facet(owner, {"createdAt": -1, "_id": -1}, skip=10)
        (answer,) = await (await referrals.aggregate(pipeline)).to_list()
        return answer, handed_on.count

    answer, handed_on = _run(scenario())
    minutes = [int((d["createdAt"] - start).total_seconds() // 60) for d in answer["rows"]]
    assert minutes == list(range(size - 11, size - 21, -1))
    assert answer["count"] == [{"n": size}]
    assert {g["_id"]: g["n"] for g in answer["groups"]} == {
        "converted": size // 2,
        "pending": size // 2,
    }
    assert handed_on <= 10  # the page, not every one of the owner's documents


def test_memory_engine_compares_plain_values_directly(memory_db, monkeypatch):
    """A sort by date and _id, and an equality on an ObjectId, skip the general comparison."""
    import datetime as dt

    from mongoeco.compat import base

    start = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - naive UTC, as pymongo reads it
    owner = ObjectId()

    async def scenario():
        ledger = memory_db.ledger
        await ledger.create_index("userId")
        await ledger.insert_many(
            [
                {"userId": owner, "createdAt": start + dt.timedelta(minutes=(n * 7) % 50)}
                for n in range(50)
            ]
        )
        general = []
        wrap = base.wrap_bson_numeric
        monkeypatch.setattr(base, "wrap_bson_numeric", lambda v: general.append(v) or wrap(v))
        pipeline = [{"$match": {"userId": owner}}, {"$sort": {"createdAt": -1, "_id": -1}}]
        rows = await (await ledger.aggregate(pipeline)).to_list()
        return [d["createdAt"] for d in rows], general

    dates, general = _run(scenario())
    assert dates == sorted(dates, reverse=True) and len(dates) == 50
    assert general == []  # every comparison was of two dates, two ObjectIds
