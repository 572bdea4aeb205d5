"""explain_queries: the plan walk on real MongoDB explain answers, and the command end to end.

The explain answers below are shaped like MongoDB 7.0's (from its manual's
"Explain Results" page): a find on the classic engine, a find on the
slot-based engine (winningPlan.queryPlan), an aggregate whose first stage is
a $cursor, and a sharded find.
"""

import pytest
from django.core.management import call_command

from referral_site.ops.queryplans import index_names_used, plan_offenders

IXSCAN_FETCH = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "referral_store.purchases",
        "winningPlan": {
            "stage": "FETCH",
            "inputStage": {
                "stage": "IXSCAN",
                "keyPattern": {"userId": 1, "cardFingerprint": 1},
                "indexName": "purchases_user_card",
                "direction": "forward",
            },
        },
        "rejectedPlans": [],
    },
    "ok": 1.0,
}

COLLSCAN = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "referral_store.products",
        "winningPlan": {
            "stage": "COLLSCAN",
            "filter": {"category": {"$eq": "ebook"}},
            "direction": "forward",
        },
        "rejectedPlans": [],
    },
}

SBE_SORT_OVER_IXSCAN = {
    "explainVersion": "2",
    "queryPlanner": {
        "namespace": "referral_store.referrals",
        "winningPlan": {
            "queryPlan": {
                "stage": "SORT",
                "sortPattern": {"createdAt": -1},
                "memLimit": 104857600,
                "type": "simple",
                "inputStage": {
                    "stage": "FETCH",
                    "inputStage": {
                        "stage": "IXSCAN",
                        "indexName": "referrerId_1",
                        "keyPattern": {"referrerId": 1},
                    },
                },
            },
            "slotBasedPlan": {"slots": "...", "stages": "..."},
        },
    },
}

TOP_K_SORT = {
    "queryPlanner": {
        "namespace": "referral_store.products",
        "winningPlan": {
            "stage": "SORT",
            "sortPattern": {"price": 1},
            "limitAmount": 12,
            "inputStage": {"stage": "IXSCAN", "indexName": "category_1"},
        },
    }
}

AGGREGATE_CURSOR = {
    "explainVersion": "1",
    "stages": [
        {
            "$cursor": {
                "queryPlanner": {
                    "namespace": "referral_store.purchases",
                    "winningPlan": {
                        "stage": "PROJECTION_DEFAULT",
                        "inputStage": {"stage": "COLLSCAN", "direction": "forward"},
                    },
                }
            }
        },
        {"$group": {"_id": "$productId", "n": {"$sum": {"$const": 1}}}},
    ],
}

SHARDED_FIND = {
    "queryPlanner": {
        "mongosPlannerVersion": 1,
        "winningPlan": {
            "stage": "SHARD_MERGE",
            "shards": [
                {
                    "shardName": "shard0",
                    "namespace": "referral_store.purchases",
                    "winningPlan": {
                        "stage": "FETCH",
                        "inputStage": {"stage": "IXSCAN", "indexName": "userId_1"},
                    },
                },
                {
                    "shardName": "shard1",
                    "namespace": "referral_store.purchases",
                    "winningPlan": {"stage": "COLLSCAN"},
                },
            ],
        },
    }
}

EXECUTION_STATS_SMALL_SORT = {
    "queryPlanner": SBE_SORT_OVER_IXSCAN["queryPlanner"],
    "executionStats": {
        "nReturned": 7,
        "executionStages": {
            "stage": "SORT",
            "nReturned": 7,
            "inputStage": {"stage": "FETCH", "nReturned": 7},
        },
    },
}

EXECUTION_STATS_BIG_SORT = {
    "queryPlanner": SBE_SORT_OVER_IXSCAN["queryPlanner"],
    "executionStats": {
        "nReturned": 200,
        "executionStages": {
            "stage": "SORT",
            "nReturned": 200,
            "inputStage": {"stage": "FETCH", "nReturned": 200},
        },
    },
}


def test_an_index_scan_is_no_offence():
    assert plan_offenders(IXSCAN_FETCH) == []
    assert index_names_used(IXSCAN_FETCH) == {"purchases_user_card"}


def test_a_collection_scan_is_reported_with_its_namespace():
    [offence] = plan_offenders(COLLSCAN)
    assert offence.stage == "COLLSCAN"
    assert "referral_store.products" in offence.detail


def test_an_in_memory_sort_on_the_slot_based_engine_is_found_under_query_plan():
    [offence] = plan_offenders(SBE_SORT_OVER_IXSCAN)
    assert offence.stage == "SORT"
    assert "createdAt" in offence.detail
    assert index_names_used(SBE_SORT_OVER_IXSCAN) == {"referrerId_1"}


def test_a_top_k_sort_of_one_page_is_no_offence():
    assert plan_offenders(TOP_K_SORT, page_size=20) == []
    assert [o.stage for o in plan_offenders(TOP_K_SORT, page_size=10)] == ["SORT"]


def test_an_aggregate_is_judged_by_its_cursor_stage():
    assert [o.stage for o in plan_offenders(AGGREGATE_CURSOR)] == ["COLLSCAN"]


def test_each_shard_of_a_sharded_find_is_walked():
    assert [o.stage for o in plan_offenders(SHARDED_FIND)] == ["COLLSCAN"]
    assert index_names_used(SHARDED_FIND) == {"userId_1"}


def test_execution_stats_decide_whether_a_sort_exceeds_a_page():
    assert plan_offenders(EXECUTION_STATS_SMALL_SORT, page_size=20) == []
    [offence] = plan_offenders(EXECUTION_STATS_BIG_SORT, page_size=20)
    assert "200 documents" in offence.detail


def test_an_answer_without_a_query_planner_judges_nothing():
    # The embedded stand-in's own explain shape.
    assert plan_offenders({"engine": "memory", "strategy": "python", "plan": "..."}) == []


@pytest.fixture
def seeded(user_factory, product_factory, referred, make_purchase, mongo):
    product = product_factory(title="Clean Code", category="ebook")
    make_purchase(user=referred, product=product, amount="32.99")
    return product


def _snapshot(mongo) -> dict:
    return {
        name: sorted(map(str, mongo[name].find({}, sort=[("_id", 1)])))
        for name in mongo.list_collection_names()
        if not name.startswith("system.")
    }


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_server_it_lists_each_pages_queries_says_it_cannot_judge_and_writes_nothing(
    seeded, mongo, capsys
):
    # given the shop's data
    before = _snapshot(mongo)

    # when
    call_command("explain_queries")

    # then every benchmarked GET page was requested and its reads listed
    out = capsys.readouterr().out
    for page in ("home GET / -> 200", "catalog GET /products/", "product GET", "checkout GET"):
        assert page in out
    assert "dashboard GET /dashboard/ -> 200" in out
    assert "aggregate products {'category': '?', 'price': {'$gte': '?'}}" in out
    assert "find products {} sort {'featured': -1, 'createdAt': -1}" in out
    assert "aggregate referrals {'referrerId': '?'}" in out
    assert "0 writes" in out and " 1 writes" not in out
    assert "cannot judge" in out
    # and nothing was written: no session, no lastLogin, no document changed
    assert _snapshot(mongo) == before
