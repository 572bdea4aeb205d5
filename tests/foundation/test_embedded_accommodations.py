"""The stand-in's accommodations in isolation (referral_site/embedded.py)."""

import pytest

from referral_site.embedded import _mongo_truthy, flatten_pipeline

MISSING = object()


def test_nested_projection_documents_become_dotted_paths():
    pipeline = [
        {
            "$lookup": {
                "from": "products",
                "pipeline": [{"$project": {"a": {"b": 1}}}],
                "as": "products",
            }
        },
        {"$addFields": {"products": {"title": "$products.title"}}},
        {
            "$project": {
                "products": {"title": 1},
                "total": {"$sum": "$x"},
                "lit": {"$literal": {"k": 1}},
                "createdAt": 1,
            }
        },
    ]

    assert flatten_pipeline(pipeline) == [
        {"$lookup": {"from": "products", "pipeline": [{"$project": {"a.b": 1}}], "as": "products"}},
        {"$addFields": {"products.title": "$products.title"}},
        {
            "$project": {
                "products.title": 1,
                "total": {"$sum": "$x"},
                "lit": {"$literal": {"k": 1}},
                "createdAt": 1,
            }
        },
    ]


def test_not_follows_mongodb_truthiness():
    falsy = [None, False, 0, 0.0, MISSING]
    truthy = [True, 1, -1, "", "x", [], {}]
    assert [_mongo_truthy(v, MISSING) for v in falsy] == [False] * len(falsy)
    assert [_mongo_truthy(v, MISSING) for v in truthy] == [True] * len(truthy)


def test_only_compound_unique_indexes_implied_by_a_subset_index_are_skipped():
    from referral_site.embedded import redundant_unique_index_names

    in_range = {"$gte": 0, "$lte": 9}
    indexes = [
        {
            "name": "referred",
            "fields": ["referredUserId"],
            "unique": True,
            "partial_filter_expression": {"referredUserId": in_range},
        },
        {
            "name": "pair",
            "fields": ["referrerId", "referredUserId"],
            "unique": True,
            "partial_filter_expression": {"referrerId": in_range, "referredUserId": in_range},
        },
        {"name": "other_pair", "fields": ["a", "b"], "unique": True},
        {
            "name": "loose_pair",
            "fields": ["referredUserId", "c"],
            "unique": True,
            "partial_filter_expression": {"c": in_range},
        },
    ]

    # "loose_pair" does not repeat the subset's filter, so it is still checked.
    assert redundant_unique_index_names(indexes) == {"pair"}


def test_compound_unique_indexes_are_still_enforced(db):
    from django.db import connection
    from pymongo.errors import DuplicateKeyError

    scratch = connection.database["scratch_pairs"]
    scratch.create_index([("a", 1), ("b", 1)], unique=True)
    scratch.insert_one({"a": 1, "b": 2})
    try:
        with pytest.raises(DuplicateKeyError):
            scratch.insert_one({"a": 1, "b": 2})
        scratch.insert_one({"a": 1, "b": 3})
    finally:
        scratch.drop()
