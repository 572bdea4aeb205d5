"""Programme integrity: the reward hold, clawback on refund, abuse signals and review.

Through the services a checkout and a staff member use, the admin, the
dashboard and the management commands, against the embedded server.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from credits.models import CreditTransaction, Kind
from credits.services import InsufficientCredits, credits_spend
from purchases.models import Purchase
from purchases.services import purchase_refund, purchase_reward_referral
from referral_site.formats import day_label
from referrals.conversion import referral_release_due
from referrals.models import NotRewarded, Referral, ReferralStatus, Review, Signal
from referrals.services import referral_create
from tests.factories import UserFactory
from tests.shopping import buy, card, card_as_browser

PASSWORD = "correct-horse-battery"
MASTERCARD = "5555555555554444"


def reconciled():
    """reconcile_credits --check finds nothing: ledger == caches (credits, earned, held)."""
    call_command("reconcile_credits", "--check", "--quiet-seconds", "0", verbosity=0)
    return True


def in_parallel(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def fresh(*users):
    for user in users:
        user.refresh_from_db()
    return users


def hold_passes(mongo, referral):
    """Time passes: the referral's hold date is now in the past."""
    mongo.referrals.update_one(
        {"_id": referral.pk}, {"$set": {"rewardHeldUntil": timezone.now() - timedelta(seconds=1)}}
    )


@pytest.fixture
def product(product_factory):
    return product_factory(price=Decimal("20.00"))


@pytest.fixture
def hold(settings):
    settings.REFERRAL_HOLD_DAYS = 14
    return settings


# --- Reward hold ---------------------------------------------------------------------


def test_a_held_reward_shows_its_date_cannot_be_spent_and_is_released_once(
    client, hold, mongo, referrer, referred, product
):
    buy(referred, product)

    fresh(referrer, referred)
    referral = Referral.objects.get(referred_user=referred)
    for person in (referrer, referred):
        assert (person.credits, person.held_credits, person.total_credits_earned) == (0, 2, 0)
    assert referral.status == ReferralStatus.CONVERTED
    assert referral.reward_held_until - referral.converted_at == timedelta(days=14)
    with pytest.raises(InsufficientCredits):
        credits_spend(user_id=referred.pk, amount=1, idempotency_key="try", reason="too early")
    until = day_label(referral.reward_held_until)
    client.force_login(referrer)
    page = client.get("/dashboard/").content.decode()
    assert f"Held until {until}, then spendable" in page
    assert 'id="stat-held">2<' in page
    client.force_login(referred)
    page = client.get("/dashboard/").content.decode()
    assert "Your invitation" in page and f"Held until {until}" in page
    assert f"+2 held until {until}" in page  # the statement's entry

    call_command("release_held_rewards", verbosity=0)
    assert fresh(referrer)[0].credits == 0  # not due yet

    hold_passes(mongo, referral)
    call_command("release_held_rewards", verbosity=0)
    call_command("release_held_rewards", verbosity=0)

    fresh(referrer, referred)
    for person in (referrer, referred):
        assert (person.credits, person.held_credits, person.total_credits_earned) == (2, 0, 2)
    assert CreditTransaction.objects.filter(kind=Kind.REWARD_RELEASE).count() == 2
    client.force_login(referrer)
    assert ">Rewarded<" in client.get("/dashboard/").content.decode()
    assert reconciled()


def test_without_a_hold_rewards_are_spendable_at_once(referrer, referred, product):
    buy(referred, product)

    fresh(referrer, referred)
    assert (referrer.credits, referrer.held_credits) == (2, 0)
    assert Referral.objects.get(referred_user=referred).reward_held_until is None


def test_sixteen_concurrent_first_purchases_under_a_hold_hold_one_reward_per_side(
    hold, referrer, referred, product_factory
):
    products = [product_factory(price=Decimal("20.00")) for _ in range(16)]

    in_parallel([lambda p=p: buy(referred, p) for p in products])

    assert Purchase.objects.filter(user=referred, is_first_purchase=True).count() == 1
    referral = Referral.objects.get(referred_user=referred)
    assert referral.status == ReferralStatus.CONVERTED
    rewards = CreditTransaction.objects.filter(kind__startswith="referral_reward")
    assert sorted((r.user_id == referrer.pk, r.amount, r.held_amount) for r in rewards) == [
        (False, 0, 2),
        (True, 0, 2),
    ]
    fresh(referrer, referred)
    assert referrer.held_credits == referred.held_credits == 2
    assert reconciled()


def test_concurrent_releases_release_each_hold_once(hold, referrer, referred, product):
    buy(referred, product)
    later = timezone.now() + timedelta(days=15)

    released = in_parallel([lambda: referral_release_due(now=later) for _ in range(8)])

    assert sum(released) == 1
    assert CreditTransaction.objects.filter(kind=Kind.REWARD_RELEASE).count() == 2
    fresh(referrer, referred)
    assert (referrer.credits, referrer.held_credits) == (2, 0)
    assert (referred.credits, referred.held_credits) == (2, 0)
    assert reconciled()


def test_a_refund_racing_a_release_never_counts_twice(
    hold, mongo, staff_user, referrer, referred, product
):
    purchase = buy(referred, product)
    hold_passes(mongo, Referral.objects.get(referred_user=referred))

    in_parallel(
        [
            lambda: purchase_refund(
                purchase=Purchase.objects.get(pk=purchase.pk), actor=staff_user
            ),
            lambda: referral_release_due(),
        ]
    )

    fresh(referrer, referred)
    for person in (referrer, referred):
        assert (person.credits, person.held_credits) == (0, 0)
        ends = CreditTransaction.objects.filter(
            user=person, idempotency_key__startswith="referral-hold-end:"
        )
        assert ends.count() == 1  # released or cancelled: one or the other
    assert Referral.objects.get(referred_user=referred).reversed_at is not None
    assert reconciled()


# --- Clawback ----------------------------------------------------------------------


def test_a_refund_within_the_window_cancels_held_rewards(
    client, hold, staff_user, referrer, referred, product
):
    purchase = buy(referred, product)

    purchase_refund(purchase=purchase, actor=staff_user)

    fresh(referrer, referred)
    assert (referrer.held_credits, referred.held_credits, referrer.credits) == (0, 0, 0)
    assert CreditTransaction.objects.filter(kind=Kind.CLAWBACK).count() == 2
    referral = Referral.objects.get(referred_user=referred)
    assert referral.status == ReferralStatus.CONVERTED and referral.reversed_at is not None
    assert referral_release_due(now=timezone.now() + timedelta(days=30)) == 0
    client.force_login(referrer)
    assert "Reversed: the first purchase was refunded" in client.get("/dashboard/").content.decode()
    client.force_login(referred)
    assert (
        "Reversed: your first purchase was refunded" in client.get("/dashboard/").content.decode()
    )
    assert reconciled()


def test_clawback_beyond_the_balance_records_the_shortfall_and_stops_at_zero(
    client, staff_user, referrer, referred, product, product_factory
):
    purchase = buy(referred, product)
    # The referrer spends the reward before the refund: 2 credits on a $20 product.
    buy(fresh(referrer)[0], product_factory(price=Decimal("20.00")), credits=2)
    assert fresh(referrer)[0].credits == 0

    purchase_refund(purchase=purchase, actor=staff_user)

    fresh(referrer, referred)
    assert referrer.credits == 0 and referred.credits == 0
    taken = CreditTransaction.objects.get(user=referrer, kind=Kind.CLAWBACK)
    assert (taken.amount, taken.shortfall, taken.balance_after) == (0, 2, 0)
    client.force_login(staff_user)
    listing = client.get("/admin/credits/credittransaction/?shortfall=yes").content.decode()
    assert "Referral reward reversed" in listing and "1 credit transaction" in listing
    assert reconciled()


def test_a_reversed_referral_never_converts_again(staff_user, referrer, referred, product):
    purchase = buy(referred, product)
    purchase_refund(purchase=purchase, actor=staff_user)

    # Even if a repair marked the purchase unawarded and retried the conversion:
    Purchase.objects.filter(pk=purchase.pk).update(referral_credit_awarded=False)
    purchase_reward_referral(purchase=Purchase.objects.get(pk=purchase.pk), referrer_id=referrer.pk)

    assert CreditTransaction.objects.filter(kind__startswith="referral_reward").count() == 2
    fresh(referrer)
    assert referrer.credits == 0


def test_a_refund_after_the_clawback_window_takes_nothing_back(
    settings, mongo, staff_user, referrer, referred, product
):
    purchase = buy(referred, product)
    mongo.referrals.update_one(
        {"referredUserId": referred.pk},
        {"$set": {"convertedAt": timezone.now() - timedelta(days=31)}},
    )

    purchase_refund(purchase=purchase, actor=staff_user)

    fresh(referrer)
    assert referrer.credits == 2
    assert not CreditTransaction.objects.filter(kind=Kind.CLAWBACK).exists()
    assert Referral.objects.get(referred_user=referred).reversed_at is None


# --- Abuse signals and review --------------------------------------------------------


def test_a_self_referral_with_the_same_card_waits_for_review_and_approving_twice_awards_once(
    client, staff_user, referrer, referred, product, product_factory
):
    buy(referrer, product_factory(price=Decimal("9.00")))  # the referrer's own Visa

    purchase = buy(referred, product)  # the same card

    referral = Referral.objects.get(referred_user=referred)
    assert referral.status == ReferralStatus.CONVERTED
    assert (referral.review, referral.signals) == (Review.WAITING, [Signal.SAME_CARD])
    assert not CreditTransaction.objects.filter(kind__startswith="referral_reward").exists()
    client.force_login(referrer)
    page = client.get("/dashboard/").content.decode()
    assert "Under review: we are checking this referral before rewarding it" in page
    assert "Paid with a card" not in page  # the rule stays with staff
    client.force_login(staff_user)
    assert "1 referral waiting for review" in client.get("/admin/").content.decode()
    queue = client.get("/admin/backoffice/referralreview/?review__exact=waiting").content.decode()
    assert "Paid with a card the referrer used" in queue

    for _ in range(2):
        client.post(
            "/admin/backoffice/referralreview/",
            {"action": "approve", "_selected_action": [str(referral.pk)]},
        )

    fresh(referrer, referred)
    assert referrer.credits == 2 and referred.credits == 2
    assert CreditTransaction.objects.filter(kind__startswith="referral_reward").count() == 2
    referral.refresh_from_db()
    assert (referral.review, referral.reviewed_by_id) == (Review.APPROVED, staff_user.pk)
    decisions = LogEntry.objects.filter(object_id=str(referral.pk))
    assert [(d.user_id, d.change_message) for d in decisions] == [
        (staff_user.pk, "Approved the referral: rewards awarded")
    ]
    assert Purchase.objects.get(pk=purchase.pk).referral_credit_awarded
    assert "No referrals waiting for review" in client.get("/admin/").content.decode()
    assert reconciled()


def test_cards_from_the_browser_are_compared_too(referrer, referred, product, product_factory):
    buy(referrer, product_factory(price=Decimal("9.00")), **card_as_browser(MASTERCARD))

    purchase = buy(referred, product, **card_as_browser(MASTERCARD))

    stored = Purchase.objects.get(pk=purchase.pk)
    assert (stored.card_last4, len(stored.card_fingerprint)) == ("4444", 16)
    assert Referral.objects.get(referred_user=referred).signals == [Signal.SAME_CARD]


def test_a_different_card_converts_without_review(referrer, referred, product, product_factory):
    buy(referrer, product_factory(price=Decimal("9.00")), **card(MASTERCARD))

    buy(referred, product)

    referral = Referral.objects.get(referred_user=referred)
    assert (referral.review, referral.signals) == ("", [])
    assert fresh(referrer)[0].credits == 2


def test_a_rejected_referral_never_awards_and_says_so(
    client, staff_user, referrer, referred, product, product_factory
):
    buy(referrer, product_factory(price=Decimal("9.00")))
    purchase = buy(referred, product)
    referral = Referral.objects.get(referred_user=referred)
    client.force_login(staff_user)
    chosen = {"action": "reject", "_selected_action": [str(referral.pk)]}

    asked = client.post("/admin/backoffice/referralreview/", chosen)
    empty = client.post("/admin/backoffice/referralreview/", {**chosen, "apply": "1"})
    done = client.post(
        "/admin/backoffice/referralreview/",
        {**chosen, "apply": "1", "reason": "Same person, second account"},
        follow=True,
    )

    assert "Reason:" in asked.content.decode()
    assert "This field is required" in empty.content.decode()
    assert "Rejected 1 referral(s)" in done.content.decode()
    referral.refresh_from_db()
    assert (referral.review, referral.not_rewarded_reason) == (
        Review.REJECTED,
        NotRewarded.REJECTED,
    )
    assert referral.review_note == "Same person, second account"
    assert LogEntry.objects.get(object_id=str(referral.pk)).user_id == staff_user.pk
    # Approving it now, or retrying the conversion, awards nothing.
    client.post(
        "/admin/backoffice/referralreview/",
        {"action": "approve", "_selected_action": [str(referral.pk)]},
    )
    purchase_reward_referral(purchase=Purchase.objects.get(pk=purchase.pk), referrer_id=referrer.pk)
    assert not CreditTransaction.objects.filter(kind__startswith="referral_reward").exists()
    client.force_login(referred)
    page = client.get("/dashboard/").content.decode()
    assert "Not rewarded: it did not meet the programme&#x27;s terms" in page
    assert reconciled()


def sign_in(client, user):
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302


def sign_up_through(client, referrer, email):
    client.get(f"/r/{referrer.referral_code}/")
    response = client.post(
        "/accounts/signup/",
        {
            "name": "New Friend",
            "email": email,
            "password": "a-long-enough-password",
            "referral_code": referrer.referral_code,
        },
    )
    assert response.status_code == 302
    return Referral.objects.get(referred_user__email=email)


HOME = "81.2.69.142"  # a public address (loopback and private ones are shared: no signal)
ELSEWHERE = "81.2.69.160"


def test_a_signup_from_the_referrers_browser_and_address_is_flagged(mongo, referrer):

    browser = Client(REMOTE_ADDR=HOME)
    sign_in(browser, referrer)
    browser.post("/accounts/logout/")

    referral = sign_up_through(browser, referrer, "friend@example.org")

    assert set(referral.signals) == {Signal.SAME_IP, Signal.SAME_BROWSER}
    # Kept as keyed hashes only: the address never appears in the documents.
    stored = mongo.users.find_one({"_id": referrer.pk})
    assert stored["lastIpHash"] and stored["lastBrowserHash"]
    assert HOME not in str(list(mongo.users.find())) + str(list(mongo.referrals.find()))


def test_the_same_address_alone_is_a_signal_and_another_browser_is_not(referrer):

    sign_in(Client(REMOTE_ADDR=HOME), referrer)

    referral = sign_up_through(Client(REMOTE_ADDR=HOME), referrer, "friend@example.org")

    assert referral.signals == [Signal.SAME_IP]


def test_loopback_and_private_addresses_are_no_signal(client, referrer):
    sign_in(client, referrer)  # 127.0.0.1, as in development

    referral = sign_up_through(Client(REMOTE_ADDR="10.0.0.7"), referrer, "f@example.org")

    assert referral.signals == []


def test_a_signup_from_another_browser_and_address_carries_no_signal(client, referrer):

    sign_in(Client(REMOTE_ADDR=HOME), referrer)

    referral = sign_up_through(Client(REMOTE_ADDR=ELSEWHERE), referrer, "friend@example.org")

    assert referral.signals == []


def test_a_referrer_seen_long_ago_on_the_same_address_is_not_flagged(mongo, referrer):

    client = Client(REMOTE_ADDR=HOME)
    sign_in(client, referrer)
    client.post("/accounts/logout/")
    mongo.users.update_one(
        {"_id": referrer.pk}, {"$set": {"lastSeenAt": timezone.now() - timedelta(days=60)}}
    )

    assert sign_up_through(client, referrer, "friend@example.org").signals == []


@pytest.mark.parametrize(
    ("email", "signal"),
    [
        ("someone@mailinator.com", Signal.DISPOSABLE_EMAIL),
        ("x@sub.guerrillamail.com", Signal.DISPOSABLE_EMAIL),
        ("grace+second@example.com", Signal.EMAIL_ALIAS),
    ],
)
def test_disposable_and_alias_addresses_are_flagged(email, signal, referrer):

    assert sign_up_through(Client(REMOTE_ADDR=ELSEWHERE), referrer, email).signals == [signal]


def test_gmail_dots_are_the_same_address(user_factory):

    gmail = user_factory(name="Gmail Referrer", email="grace.hopper@gmail.com")

    referral = sign_up_through(Client(REMOTE_ADDR=ELSEWHERE), gmail, "gracehopper+x@gmail.com")

    assert referral.signals == [Signal.EMAIL_ALIAS]


def test_a_flagged_signup_waits_for_review_at_its_qualifying_purchase(referrer, product):
    buyer = UserFactory(name="Flagged", referred_by=referrer)
    referral_create(referrer=referrer, referred_user=buyer, signals=[Signal.SAME_IP])

    buy(buyer, product)

    referral = Referral.objects.get(referred_user=buyer)
    assert (referral.status, referral.review) == (ReferralStatus.CONVERTED, Review.WAITING)
    assert not referral.credits_awarded and fresh(referrer)[0].credits == 0
    assert reconciled()  # waiting is not drift


def test_conversions_over_the_velocity_limit_wait_for_review(settings, referrer, product):
    settings.REFERRAL_VELOCITY_LIMIT = 2
    buyers = [UserFactory(name=f"Friend {n}", referred_by=referrer) for n in range(3)]
    for buyer in buyers:
        referral_create(referrer=referrer, referred_user=buyer)

    for buyer in buyers:
        buy(buyer, product)

    reviews = [Referral.objects.get(referred_user=b).review for b in buyers]
    assert reviews == ["", "", Review.WAITING]
    assert Referral.objects.get(referred_user=buyers[2]).signals == [Signal.VELOCITY]
    assert fresh(referrer)[0].credits == 4


def test_the_same_card_and_the_velocity_are_both_found(
    settings, referrer, product, product_factory
):
    """The referrals app reads the purchase's card evidence in its velocity command."""
    settings.REFERRAL_VELOCITY_LIMIT = 1
    buy(referrer, product_factory(price=Decimal("9.00")))  # the referrer's own Visa
    first, second = [UserFactory(name=f"Friend {n}", referred_by=referrer) for n in range(2)]
    for buyer in (first, second):
        referral_create(referrer=referrer, referred_user=buyer)

    buy(first, product, **card(MASTERCARD))  # another card, the first conversion today
    buy(second, product)  # the referrer's card, and over the limit

    assert Referral.objects.get(referred_user=first).signals == []
    assert Referral.objects.get(referred_user=second).signals == [Signal.SAME_CARD, Signal.VELOCITY]


@pytest.mark.parametrize(("limit", "signals"), [(None, [Signal.SAME_CARD]), (0, [Signal.VELOCITY])])
def test_without_a_velocity_check_the_card_is_still_compared(
    settings, referrer, referred, product, product_factory, limit, signals
):
    """No velocity limit: the card check runs alone; a limit of 0: every conversion is flagged."""
    settings.REFERRAL_VELOCITY_LIMIT = limit
    buy(referrer, product_factory(price=Decimal("9.00")))

    buy(referred, product, **card(MASTERCARD) if limit == 0 else {})

    assert Referral.objects.get(referred_user=referred).signals == signals


def test_staff_who_may_only_view_cannot_decide(
    client, referrer, referred, product, product_factory
):
    from django.contrib.auth.models import Permission

    buy(referrer, product_factory(price=Decimal("9.00")))
    buy(referred, product)
    referral = Referral.objects.get(referred_user=referred)
    viewer = UserFactory(name="Viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_referralreview"))
    client.force_login(viewer)

    listing = client.get("/admin/backoffice/referralreview/")
    client.post(
        "/admin/backoffice/referralreview/",
        {"action": "approve", "_selected_action": [str(referral.pk)]},
    )

    assert listing.status_code == 200 and "Approve the selected" not in listing.content.decode()
    assert Referral.objects.get(pk=referral.pk).review == Review.WAITING
    assert fresh(referrer)[0].credits == 0
