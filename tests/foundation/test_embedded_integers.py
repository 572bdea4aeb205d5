"""Gap 9 on both engines: integers of both BSON widths compare by value.

django-mongodb-backend stores an IntegerField as a 64-bit integer; pymongo
sends a small Python int as a 32-bit one, and the stand-in's ``$inc`` leaves
32-bit values behind. Unaccommodated, the SQLite engine let ``credits >= 3``
match a balance of 0 and an equality on two fields match nothing.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from bson import Int64, ObjectId
from pymongo import ReturnDocument


@pytest.fixture
def users(engine_client):
    """The users collection of a fresh server of each engine."""
    return engine_client.shop.users


def _spend(users, user_id, amount):
    """The credits service's guarded decrement: the filter is the lock."""
    return users.find_one_and_update(
        {"_id": user_id, "credits": {"$gte": amount}},
        {"$inc": {"credits": -amount}},
        return_document=ReturnDocument.AFTER,
    )


def test_a_guard_never_passes_a_balance_below_it(users):
    poor = users.insert_one({"credits": Int64(0)}).inserted_id  # as the ORM stores it

    assert _spend(users, poor, 3) is None
    assert users.find_one({"_id": poor})["credits"] == 0


def test_equality_on_two_integer_fields_matches_whatever_their_width(users):
    user_id = ObjectId()
    users.insert_one({"_id": user_id, "credits": Int64(5), "totalCreditsEarned": Int64(5)})
    users.update_one({"_id": user_id}, {"$inc": {"credits": 2, "totalCreditsEarned": 2}})

    both = {"_id": user_id, "credits": Int64(7), "totalCreditsEarned": Int64(7)}
    assert users.find_one(both) is not None
    assert users.find_one({**both, "credits": 7, "totalCreditsEarned": 7}) is not None


def test_twenty_racing_spends_of_two_on_a_balance_of_two_leave_zero(users):
    user_id = users.insert_one({"credits": Int64(2)}).inserted_id
    barrier = threading.Barrier(20)

    def spend(_):
        barrier.wait()
        return _spend(users, user_id, 2) is not None

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(spend, range(20)))

    assert results.count(True) == 1
    assert users.find_one({"_id": user_id})["credits"] == 0
