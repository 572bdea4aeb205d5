"""The referral dashboard: numbers, pagination, sorting, privacy, command bound."""

import json
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from credits.models import CreditTransaction
from credits.services import credits_grant
from purchases.services import purchase_checkout
from referral_site.db_monitoring import count_commands
from referrals.models import Referral

# session, user, ledger $facet, referrals $facet (with the referrals the
# statement names), and one read of all those users' names.
DASHBOARD_BOUND = 5


@pytest.fixture
def referrer(user_factory):
    return user_factory(name="Alice Referrer", email="alice@example.com")


def refer(referrer, user_factory, name, *, buy=False, product=None):
    friend = user_factory(name=name, referred_by=referrer)
    Referral.objects.create(referrer=referrer, referred_user=friend)
    if buy:
        purchase_checkout(
            user=friend,
            product=product,
            credits_used=0,
            token=uuid.uuid4().hex,
            payment_method_id="pm_card_visa",
        )
    return friend


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, element_id
    return match.group(1)


def test_numbers_match_a_hand_computed_fixture(client, referrer, user_factory, product_factory):
    product = product_factory(price=Decimal("10.00"))
    for i in range(3):
        refer(referrer, user_factory, f"Buyer {i}", buy=True, product=product)
    for i in range(5):
        refer(referrer, user_factory, f"Pending {i}")
    client.force_login(referrer)

    html = client.get("/dashboard/").content.decode()

    # 3 conversions x 2 credits = 6 credits = $60.00; 3 of 8 = 37.5 %.
    assert text_of(html, "stat-credits") == "6"
    assert "worth $60.00" in html
    assert text_of(html, "stat-earned") == "6"
    assert text_of(html, "stat-total") == "8"
    assert text_of(html, "stat-converted") == "3"
    assert text_of(html, "stat-pending") == "5"
    assert text_of(html, "stat-rate") == "37.5%"


def test_the_link_is_absolute_with_copy_button_qr_and_share_links(client, referrer):
    client.force_login(referrer)

    html = client.get("/dashboard/").content.decode()

    link = f"http://testserver/r/{referrer.referral_code}/"
    assert f'id="referral-link" value="{link}" readonly' in html
    assert 'data-copy-target="referral-link"' in html
    assert "<svg" in html and "QR code of your referral link" in html
    assert "https://wa.me/?text=" in html and "linkedin.com/sharing" in html
    assert "twitter.com/intent/tweet" in html and "mailto:?subject=" in html
    png = client.get("/dashboard/qr.png")
    svg = client.get("/dashboard/qr.svg")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    assert 'filename="referral-link.png"' in png["Content-Disposition"]


def test_a_new_user_sees_what_the_programme_offers_in_dollars(client, settings, referrer):
    settings.REFERRAL_REWARD_REFERRER = 3
    client.force_login(referrer)

    html = client.get("/dashboard/").content.decode()

    assert 'id="programme"' in html
    assert "Give $20, get $30" in html  # 2 and 3 credits of $10.00
    assert "gets <strong>$20</strong> in credits and you get <strong>$30</strong>" in html
    assert "first purchase of $5 or more" in html
    # Sharing comes first, the statistics after it.
    assert html.index('id="referral-link"') < html.index('id="stat-credits"')
    assert "No one has signed up with your link yet." in html


def test_referred_users_paginate_and_sort_by_joined_and_status(
    client, referrer, user_factory, product_factory
):
    product = product_factory(price=Decimal("5.00"))
    for i in range(12):
        refer(referrer, user_factory, f"Friend {i:02d}", buy=(i % 4 == 0), product=product)
    # Spread the join dates so the order is unambiguous.
    base = timezone.now() - timedelta(days=30)
    for i, referral in enumerate(
        Referral.objects.filter(referrer=referrer).order_by("referred_user__name")
    ):
        Referral.objects.filter(pk=referral.pk).update(created_at=base + timedelta(days=i))
    client.force_login(referrer)

    newest = client.get("/dashboard/").content.decode()
    second = client.get("/dashboard/?rpage=2").content.decode()
    oldest = client.get("/dashboard/?sort=joined").content.decode()
    by_status = client.get("/dashboard/?sort=status").content.decode()

    names = lambda html: re.findall(r'<td data-label="Name">(Friend \d\d)</td>', html)  # noqa: E731
    assert names(newest) == [f"Friend {i:02d}" for i in range(11, 1, -1)]
    assert names(second) == ["Friend 01", "Friend 00"]
    assert names(oldest)[:3] == ["Friend 00", "Friend 01", "Friend 02"]
    assert names(by_status)[:3] == ["Friend 08", "Friend 04", "Friend 00"]  # converted first
    assert "Page 1 of 2" in newest


def test_htmx_partials_return_only_their_fragment(client, referrer, user_factory):
    refer(referrer, user_factory, "Friend")
    client.force_login(referrer)
    htmx = {"HX-Request": "true"}

    stats = client.get("/dashboard/?part=stats", headers=htmx)
    table = client.get("/dashboard/?part=referrals", headers=htmx)
    statement = client.get("/dashboard/?part=statement", headers=htmx)
    full = client.get("/dashboard/?part=stats")

    assert stats.content.decode().lstrip().startswith('<section id="stats"')
    assert table.content.decode().lstrip().startswith('<section id="referrals"')
    assert statement.content.decode().lstrip().startswith('<section id="statement"')
    assert "<html" not in stats.content.decode()
    assert "<html" in full.content.decode()
    assert "HX-Request" in stats["Vary"]


def test_stats_refresh_announces_an_award_that_arrived(
    client, referrer, user_factory, product_factory
):
    client.force_login(referrer)
    before = client.get("/dashboard/?part=stats&seen=0", headers={"HX-Request": "true"})
    refer(referrer, user_factory, "Buyer", buy=True, product=product_factory())

    after = client.get("/dashboard/?part=stats&seen=0", headers={"HX-Request": "true"})

    assert "HX-Trigger" not in before
    assert json.loads(after["HX-Trigger"]) == {"credits-awarded": {}}
    assert text_of(after.content.decode(), "stat-converted") == "1"


def test_credit_statement_lists_entries_with_balance_after_paginated(client, referrer):
    for i in range(12):
        credits_grant(
            user_id=referrer.pk,
            amount=i + 1,
            kind="adjustment",
            idempotency_key=f"statement:{i}",
            reason=f"Goodwill {i}",
        )
    client.force_login(referrer)

    first = client.get("/dashboard/").content.decode()
    second = client.get("/dashboard/?spage=2").content.decode()

    assert "Goodwill 11" in first and "Goodwill 0" not in first
    assert "Goodwill 0" in second and "Goodwill 1<" in second
    assert '<td data-label="Balance after">78</td>' in first  # after the last grant: 1 + ... + 12
    assert '<td data-label="Balance after">1</td>' in second  # after the first grant


def test_another_users_data_is_never_shown(client, referrer, user_factory):
    refer(referrer, user_factory, "Alices Friend")
    credits_grant(
        user_id=referrer.pk,
        amount=3,
        kind="adjustment",
        idempotency_key="alice-only",
        reason="Alice only",
    )
    mallory = user_factory(name="Mallory")
    client.force_login(mallory)

    html = client.get(f"/dashboard/?referrer={referrer.pk}&user={referrer.pk}").content.decode()

    assert "Alices Friend" not in html and "Alice only" not in html
    assert text_of(html, "stat-total") == "0"
    assert referrer.referral_code not in html


def test_dashboard_requires_sign_in(client, db):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def _seed(referrer, n):
    now = timezone.now()
    friends = User.objects.bulk_create(
        User(
            name=f"Seed {i}",
            email=f"seed{i}-{uuid.uuid4().hex[:6]}@example.com",
            clerk_user_id=f"local_seed_{uuid.uuid4().hex}",
            referral_code=uuid.uuid4().hex[:8].upper(),
            referred_by=referrer,
        )
        for i in range(n)
    )
    referrals = Referral.objects.bulk_create(
        Referral(
            referrer=referrer,
            referred_user=f,
            status="converted" if i % 2 else "pending",
            converted_at=now if i % 2 else None,
        )
        for i, f in enumerate(friends)
    )
    # Rewards naming their friends on the statement: its costliest page.
    CreditTransaction.objects.bulk_create(
        CreditTransaction(
            user=referrer,
            amount=1,
            kind="referral_reward_referrer",
            referral=r,
            referred_user=r.referred_user,
            reason="seed",
            idempotency_key=f"seed:{uuid.uuid4().hex}",
        )
        for r in referrals
    )


@pytest.mark.parametrize("referrals", [0, 10, 1000])
def test_dashboard_commands_stay_within_the_bound_whatever_the_data(client, referrer, referrals):
    _seed(referrer, referrals)
    client.force_login(referrer)
    client.get("/dashboard/")

    with count_commands() as log:
        response = client.get("/dashboard/")

    assert response.status_code == 200
    assert text_of(response.content.decode(), "stat-total") == str(referrals)
    assert len(log) <= DASHBOARD_BOUND, log.names()


def test_absurd_page_numbers_show_the_last_page(client, referrer, user_factory):
    refer(referrer, user_factory, "Only Friend")
    client.force_login(referrer)

    for query in (
        "rpage=100000000000000000000",
        "spage=99999999999999999999",
        "rpage=-3",
        "rpage=abc",
    ):
        response = client.get(f"/dashboard/?{query}")
        assert response.status_code == 200, query
        assert "Only Friend" in response.content.decode(), query


def test_the_qr_code_is_encoded_once_per_link(client, referrer):
    from referrals.dashboard import qr_svg

    client.force_login(referrer)
    client.get("/dashboard/")
    before = qr_svg.cache_info()

    client.get("/dashboard/")
    client.get("/dashboard/")

    after = qr_svg.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 2)


def test_the_statement_names_friends_not_on_the_referrals_page_and_in_its_fragment(
    client, referrer, user_factory, product_factory
):
    zoe = refer(referrer, user_factory, "Zoe Early", buy=True, product=product_factory())
    for i in range(10):  # newer friends: Zoe's row moves to the table's second page
        refer(referrer, user_factory, f"Later {i:02d}")
    client.force_login(referrer)

    full = client.get("/dashboard/").content.decode()
    fragment = client.get("/dashboard/?part=statement", headers={"HX-Request": "true"})
    User.objects.filter(pk=zoe.pk).update(is_active=False)  # an erased account
    erased = client.get("/dashboard/").content.decode()

    assert '<td data-label="Name">Zoe Early</td>' not in full
    assert "Zoe&#x27;s first purchase" in full
    assert "Zoe&#x27;s first purchase" in fragment.content.decode()
    assert "A friend&#x27;s first purchase" in erased


def test_the_column_links_flip_the_order_and_keep_the_statement_page(
    client, referrer, user_factory
):
    refer(referrer, user_factory, "Friend")
    client.force_login(referrer)

    newest = client.get("/dashboard/?spage=2").content.decode()
    by_status = client.get("/dashboard/?sort=status&spage=1%26sort%3Dx").content.decode()

    assert '<a href="?sort=joined&amp;spage=2" hx-get="?part=referrals&amp;sort=joined"' in newest
    assert 'href="?sort=status&amp;spage=2"' in newest
    assert 'href="?sort=-status&amp;spage=1%26sort%3Dx"' in by_status  # kept, never spliced in
    assert 'href="?sort=-joined&amp;spage=1%26sort%3Dx"' in by_status


def test_entries_written_before_they_named_the_friend_still_name_them(
    client, referrer, user_factory, product_factory
):
    refer(referrer, user_factory, "Olga Older", buy=True, product=product_factory())
    CreditTransaction.objects.filter(user=referrer).update(referred_user=None)
    client.force_login(referrer)

    with count_commands() as log:
        page = client.get("/dashboard/").content.decode()

    assert "Olga&#x27;s first purchase" in page
    assert len(log) == DASHBOARD_BOUND + 2, log.names()  # that page only: its referral, its user


def test_a_released_reward_names_the_friend_for_the_referrer_only(
    client, referrer, user_factory, product_factory, settings
):
    from referrals.conversion import referral_release_due

    settings.REFERRAL_HOLD_DAYS = 14
    zoe = refer(referrer, user_factory, "Zoe Held", buy=True, product=product_factory())
    referral_release_due(now=timezone.now() + timedelta(days=15))

    client.force_login(referrer)
    referrers = client.get("/dashboard/").content.decode()
    client.force_login(zoe)
    zoes = client.get("/dashboard/").content.decode()

    assert "Zoe&#x27;s first purchase: reward now spendable" in referrers
    assert "Referral reward released: now spendable" in zoes  # her own, not renamed
    assert "first purchase: reward now spendable" not in zoes
