"""The admin index's overview for staff, against a data set whose figures are worked out by hand.

The clock is fixed at Wednesday 15 April 2026, 14:00 UTC:
- today starts 15 April, this week on Monday 13 April, this month on 1 April;
- the 30-day referral funnel starts on 17 March, 00:00 (today included).
"""

import re
import threading
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from backoffice import overview
from purchases.models import Purchase
from referral_site.db_monitoring import SLOW_LISTENER, SlowCommandListener, count_commands
from referrals.models import NotRewarded, Referral, ReferralStatus, Review
from referrals.services import referral_link_opened

NOW = datetime(2026, 4, 15, 14, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def freeze_overview_clock(monkeypatch, now: datetime) -> None:
    """The overview's clock only: sessions and auto_now fields keep the real one."""
    monkeypatch.setattr(overview, "timezone", SimpleNamespace(now=lambda: now))


@pytest.fixture
def frozen_now(monkeypatch):
    freeze_overview_clock(monkeypatch, NOW)
    return NOW


def figures(html: str) -> dict[str, str]:
    """Every figure the overview shows, by its data-figure name."""
    return dict(re.findall(r'data-figure="([\w-]+)">([^<]*)</td>', html))


def dated(mongo, obj, when: datetime) -> None:
    """Write createdAt past auto_now_add, as the data set's story has it."""
    mongo[obj._meta.db_table].update_one({"_id": obj.pk}, {"$set": {"createdAt": when}})


@pytest.fixture
def shop(frozen_now, mongo, settings, user_factory, product_factory, referrer, make_purchase):
    """Purchases around today, the week and the month; referrals around the funnel's start."""
    settings.CREDIT_VALUE = Decimal("2.50")
    ada = user_factory(name="Ada Lovelace", email="ada@example.com")  # not referred
    book = product_factory(title="Clean Code")

    def buy(when, amount, credit_amount="0.00", status="completed", user=ada, **extra):
        purchase = make_purchase(
            user=user,
            product=book,
            amount=amount,
            credit_amount=credit_amount,
            status=status,
            **extra,
        )
        dated(mongo, purchase, when)
        return purchase

    # Revenue: the card part of completed purchases.
    buy(at(4, 15, 9), "30.00", credit_amount="10.00", is_first_purchase=True)  # today: 20.00
    buy(at(4, 15, 10), "12.50")  # today: 12.50
    buy(at(4, 15, 12), "20.00", credit_amount="20.00")  # today: a sale, 0.00 by card
    buy(at(4, 15, 11), "40.00", status="refunded")  # not revenue
    buy(at(4, 15, 12), "50.00", status="failed")  # not revenue
    buy(at(4, 15, 13), "60.00", status="pending")  # not revenue (yet)
    buy(at(4, 13, 0), "19.99")  # Monday 00:00: this week
    buy(at(4, 12, 23, 59, 59), "7.00")  # Sunday: last week, this month
    buy(at(4, 1, 0), "5.25")  # 1 April 00:00: this month
    buy(at(3, 31, 23, 59, 59), "100.00")  # last month

    # The funnel: referrals by Grace, their friends' first purchases (all in
    # March, so none of them is this month's revenue).
    def friend(n, *, joined, first_purchase=None, purchase_status="completed", **referral):
        user = user_factory(
            name=f"Friend {n}", email=f"friend{n}@example.com", referred_by=referrer
        )
        made = Referral.objects.create(referrer=referrer, referred_user=user, **referral)
        dated(mongo, made, joined)
        if first_purchase:
            buy(first_purchase, "9.99", user=user, status=purchase_status, is_first_purchase=True)
        return user

    converted = {"status": ReferralStatus.CONVERTED}
    rewarded = {**converted, "credits_awarded": True}
    friend(1, joined=at(3, 24), first_purchase=at(3, 25), **rewarded, converted_at=at(3, 25))
    friend(  # refunded: the first purchase counts, the reward was taken back
        2,
        joined=at(3, 17, 0),
        first_purchase=at(3, 20),
        purchase_status="refunded",
        **rewarded,
        converted_at=at(3, 20),
        reversed_at=at(3, 28),
    )
    friend(  # waiting for review: not rewarded (yet)
        3,
        joined=at(3, 29),
        first_purchase=at(3, 30),
        **converted,
        converted_at=at(3, 30),
        review=Review.WAITING,
    )
    friend(  # joined before the period, rewarded inside it
        4, joined=at(3, 1), first_purchase=at(3, 18), **rewarded, converted_at=at(3, 18)
    )
    friend(5, joined=at(4, 12))  # no purchase yet
    friend(  # first purchase below the qualifying amount
        6,
        joined=at(3, 21),
        first_purchase=at(3, 22),
        not_rewarded_reason=NotRewarded.BELOW_MINIMUM,
    )
    friend(  # everything one second before the period
        7,
        joined=at(3, 16, 23, 59, 59),
        first_purchase=at(3, 16, 23, 59, 59),
        **rewarded,
        converted_at=at(3, 16, 23, 59, 59),
    )
    friend(  # an approved review: rewarded, and no longer waiting
        8,
        joined=at(3, 31, 8),
        first_purchase=at(3, 31, 9),
        **rewarded,
        converted_at=at(3, 31, 9),
        review=Review.APPROVED,
    )
    for _ in range(3):
        referral_link_opened(now=at(4, 15, 8))
    referral_link_opened(now=at(3, 17, 0))
    for _ in range(2):
        referral_link_opened(now=at(3, 16, 23, 59))

    # Balances: spendable users.credits and held users.heldCredits.
    balances = {ada: (7, 0), referrer: (5, 4)}
    balances[type(ada).objects.get(email="friend1@example.com")] = (0, 2)
    for user, (credits, held) in balances.items():
        mongo.users.update_one(
            {"_id": user.pk}, {"$set": {"credits": credits, "heldCredits": held}}
        )
    return SimpleNamespace(ada=ada, book=book)


def test_the_admin_overview_shows_the_figures_worked_out_by_hand(client, staff_user, shop):
    client.force_login(staff_user)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert figures(html) == {
        # Today: 20.00 + 12.50 + 0.00 (paid with credits) from three sales;
        # refunded, failed and pending purchases are no revenue.
        "sales-1": "3",
        "revenue-1": "$32.50",
        # This week (from Monday 00:00): + 19.99.
        "sales-2": "4",
        "revenue-2": "$52.49",
        # This month (from 1 April 00:00): + 7.00 + 5.25; 31 March is not in it.
        "sales-3": "6",
        "revenue-3": "$64.74",
        # Since 17 March: 3 today + 1 on 17 March; not the 2 on 16 March.
        "links-opened": "4",
        # Friends 1, 2 (17 March 00:00), 3, 5, 6 and 8; not 4 (1 March) or 7 (16 March).
        "signups": "6",
        # Friends 1, 2 (refunded since), 3, 4, 6 (below minimum), 8; not 7 (16
        # March), nor Ada's first purchase (not referred).
        "first-purchases": "6",
        # Friends 1, 4 and 8; not 2 (reversed), 3 (waiting), 6 (below minimum), 7 (before).
        "rewarded": "3",
        # Spendable 7 + 5 + 0 credits, held 0 + 4 + 2, at $2.50 a credit.
        "spendable-credits": "12",
        "spendable-value": "$30.00",
        "held-credits": "6",
        "held-value": "$15.00",
        "total-credits": "18",
        "total-value": "$45.00",
        # Friend 3.
        "waiting-reviews": "1",
    }
    assert "Referral funnel: last 30 days" in html
    assert "Since 17 Mar 2026 (UTC), today included." in html
    waiting = reverse("admin:backoffice_referralreview_changelist") + "?review__exact=waiting"
    assert f'<a href="{waiting}"><strong>1 referral waiting for review</strong></a>' in html
    assert f'href="{reverse("admin:catalog_product_analytics")}"' in html
    # The app list is still there, under the overview.
    assert html.index("admin-overview") < html.index('class="app-purchases module')


def test_the_week_that_began_last_month_counts_in_the_week_only(
    client, staff_user, monkeypatch, mongo, user_factory, product_factory, make_purchase
):
    # Thursday 2 April: the week began on Monday 30 March.
    freeze_overview_clock(monkeypatch, at(4, 2, 9))
    buyer = user_factory(name="Ada Lovelace", email="ada@example.com")
    book = product_factory(title="Clean Code")
    for when, amount in [(at(3, 30, 0), "11.00"), (at(4, 1, 8), "4.00"), (at(3, 29), "50.00")]:
        dated(mongo, make_purchase(user=buyer, product=book, amount=amount), when)
    client.force_login(staff_user)

    shown = figures(client.get(reverse("admin:index")).content.decode())

    assert (shown["revenue-1"], shown["revenue-2"], shown["revenue-3"]) == (
        "$0.00",
        "$15.00",
        "$4.00",
    )


def test_the_admin_is_branded_with_the_shops_name(client, staff_user, frozen_now):
    client.force_login(staff_user)

    html = client.get(reverse("admin:index")).content.decode()

    assert '<a href="/admin/">Referral Store administration</a>' in html
    assert "<title>Referral Store overview | Referral Store admin</title>" in html
    assert "<h1>Referral Store overview</h1>" in html


def test_staff_see_only_the_figures_they_may_see(client, user_factory, frozen_now):
    clerk = user_factory(name="Product Clerk", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_product", content_type__app_label="catalog")
    )
    client.force_login(clerk)

    html = client.get(reverse("admin:index")).content.decode()

    assert figures(html) == {}
    assert "Revenue" not in html and "Referral funnel" not in html
    assert reverse("admin:catalog_product_analytics") not in html
    assert "Slowest recent database commands" in html


def test_the_slowest_recent_commands_are_shown_as_this_process_sees_them(
    client, staff_user, frozen_now
):
    SLOW_LISTENER.clear()
    command = SimpleNamespace(
        command_name="aggregate",
        command={"aggregate": "purchases"},
        connection_id=("overview-test", 1),
        request_id=1,
        duration_micros=4_321_500,
    )
    SLOW_LISTENER.started(command)
    SLOW_LISTENER.succeeded(command)
    client.force_login(staff_user)

    html = client.get(reverse("admin:index")).content.decode()

    rows = re.findall(r"<code>(\w+)</code> (\w*)</th>\s*<td[^>]*>([\d.]+)</td>", html)
    assert rows[0] == ("aggregate", "purchases", "4321.5")
    assert "This server process's view only: the slowest of its last 500 commands" in html


def _event(n: int, duration_ms: float) -> SimpleNamespace:
    return SimpleNamespace(
        command_name="find",
        command={"find": f"c{n}"},
        connection_id=("test", threading.get_ident()),
        request_id=n,
        duration_micros=int(duration_ms * 1000),
    )


def test_the_record_keeps_only_the_last_commands_and_picks_the_slowest():
    listener = SlowCommandListener(recent=5)
    for n, duration in enumerate([900, 1, 2, 800, 3, 4, 5]):  # 900 falls out of the last 5
        listener.started(_event(n, duration))
        listener.succeeded(_event(n, duration))

    slowest = listener.slowest(3)

    assert [(c.collection, c.duration_ms) for c in slowest] == [("c3", 800), ("c6", 5), ("c5", 4)]
    assert listener.recent_count() == 5


def test_the_record_takes_commands_from_many_threads_at_once():
    listener = SlowCommandListener(recent=100)

    def send(offset):
        for n in range(offset, offset + 2000):
            listener.started(_event(n, n % 97))
            listener.succeeded(_event(n, n % 97))
            if n % 500 == 0:
                listener.slowest(10)

    threads = [threading.Thread(target=send, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert listener.recent_count() == 100
    assert len(listener.slowest(10)) == 10


# --- The purchases list ------------------------------------------------------------


def test_the_purchases_list_shows_the_buyer_and_keeps_status_next_to_the_product(
    client, staff_user, user, product_factory, make_purchase
):
    make_purchase(user=user, product=product_factory(title="Clean Code"), amount="32.99")
    client.force_login(staff_user)

    html = client.get("/admin/purchases/purchase/").content.decode()

    columns = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert columns[:4] == ["product_name", "status", "buyer_name", "buyer_email"]
    user_url = reverse("admin:accounts_user_change", args=[user.pk])
    assert f'<td class="field-buyer_name"><a href="{user_url}">Ada Lovelace</a></td>' in html
    assert '<td class="field-buyer_email">ada@example.com</td>' in html


def test_the_purchases_list_reads_its_buyers_in_one_query(
    client, staff_user, user_factory, product_factory, make_purchase
):
    book = product_factory(title="Clean Code")
    client.force_login(staff_user)

    def commands_for_a_page_of(buyers: int) -> int:
        for n in range(buyers):
            buyer = user_factory(email=f"buyer{buyers}-{n}@example.com")
            make_purchase(user=buyer, product=book, amount="9.99")
        with count_commands() as log:
            assert client.get("/admin/purchases/purchase/").status_code == 200
        Purchase.objects.all().delete()
        return len(log)

    assert commands_for_a_page_of(2) == commands_for_a_page_of(6)
