"""The stand-in's accommodations in isolation (referral_site/embedded.py)."""

from referral_site.embedded import _mongo_truthy, flatten_pipeline

MISSING = object()


def test_nested_projection_documents_become_dotted_paths():
    pipeline = [
        {"$lookup": {"from": "products", "pipeline": [{"$project": {"a": {"b": 1}}}],
                     "as": "products"}},
        {"$addFields": {"products": {"title": "$products.title"}}},
        {"$project": {"products": {"title": 1}, "total": {"$sum": "$x"},
                      "lit": {"$literal": {"k": 1}}, "createdAt": 1}},
    ]

    assert flatten_pipeline(pipeline) == [
        {"$lookup": {"from": "products", "pipeline": [{"$project": {"a.b": 1}}],
                     "as": "products"}},
        {"$addFields": {"products.title": "$products.title"}},
        {"$project": {"products.title": 1, "total": {"$sum": "$x"},
                      "lit": {"$literal": {"k": 1}}, "createdAt": 1}},
    ]


def test_not_follows_mongodb_truthiness():
    falsy = [None, False, 0, 0.0, MISSING]
    truthy = [True, 1, -1, "", "x", [], {}]
    assert [_mongo_truthy(v, MISSING) for v in falsy] == [False] * len(falsy)
    assert [_mongo_truthy(v, MISSING) for v in truthy] == [True] * len(truthy)
