"""The shop's numbers for /metrics: credits in circulation and held, purchases, conversions.

Registered with referral_site.metrics (a lower layer that knows no app) and
read at scrape time, at most every METRICS_DB_SCRAPE_SECONDS: three small
aggregations, each grouping one collection on a field.
"""

from collections import Counter
from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from accounts.models import User
from purchases.models import ArchivedPurchase, Purchase
from referral_site.db.collections import collection
from referrals.models import Referral


def shop_metrics() -> Iterable[Metric]:
    totals = next(
        iter(
            collection(User).aggregate(
                [
                    {
                        "$group": {
                            "_id": None,
                            "credits": {"$sum": "$credits"},
                            "held": {"$sum": "$heldCredits"},
                        }
                    }
                ]
            )
        ),
        {},
    )
    credits = GaugeMetricFamily(
        "shop_credits", "Credits on users' balances (1 credit = CREDIT_VALUE)", labels=["state"]
    )
    credits.add_metric(["spendable"], int(totals.get("credits") or 0))
    credits.add_metric(["held"], int(totals.get("held") or 0))
    yield credits

    by_status: Counter[str] = Counter()
    for model in (Purchase, ArchivedPurchase):  # the archive still counts
        for row in collection(model).aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            by_status[str(row["_id"])] += int(row["n"])
    purchases = GaugeMetricFamily(
        "shop_purchases", "Purchases by status (archived ones included)", labels=["status"]
    )
    for status, count in sorted(by_status.items()):
        purchases.add_metric([status], count)
    yield purchases

    referrals = GaugeMetricFamily(
        "shop_referrals", "Referrals by status (converted: conversions)", labels=["status"]
    )
    rewarded = 0
    for row in collection(Referral).aggregate(
        [
            {
                "$group": {
                    "_id": "$status",
                    "n": {"$sum": 1},
                    "rewarded": {"$sum": {"$cond": ["$creditsAwarded", 1, 0]}},
                }
            },
            {"$sort": {"_id": 1}},
        ]
    ):
        referrals.add_metric([str(row["_id"])], int(row["n"]))
        rewarded += int(row.get("rewarded") or 0)
    yield referrals
    conversions = GaugeMetricFamily(
        "shop_rewarded_conversions", "Referrals that converted and awarded credits"
    )
    conversions.add_metric([], rewarded)
    yield conversions
