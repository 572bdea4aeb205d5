import uuid
from decimal import Decimal

from credits.models import CreditTransaction
from purchases.models import Purchase
from purchases.services import purchase_checkout
from tests.shopping import give_credits


def _purchase(user, product, credits=0):
    return purchase_checkout(
        user=user,
        product=product,
        credits_used=credits,
        token=uuid.uuid4().hex,
        payment_method_id="pm_card_visa",
    )


def test_purchase_history_lists_only_my_purchases_newest_first_paginated(
    client, user, user_factory, product_factory
):
    other = user_factory(name="Someone Else")
    mine = [_purchase(user, product_factory(title=f"Mine {i}")) for i in range(22)]
    _purchase(other, product_factory(title="Not mine"))
    client.force_login(user)

    first_page = client.get("/purchases/").content.decode()
    second_page = client.get("/purchases/?page=2").content.decode()

    assert "Not mine" not in first_page + second_page
    assert first_page.index("Mine 21") < first_page.index("Mine 20")
    assert "Mine 1<" not in first_page and "Mine 1<" in second_page
    assert "Page 1 of 2" in first_page
    assert len(mine) == 22


def test_receipt_shows_the_split_and_someone_elses_is_a_404(
    client, user, user_factory, product_factory
):
    give_credits(user, 3)
    purchase = _purchase(user, product_factory(title="Clean Code", price=Decimal("32.99")), 2)
    client.force_login(user)

    html = client.get(f"/purchases/{purchase.pk}/").content.decode()

    assert "Clean Code" in html and "Completed" in html
    assert "2 credits ($20.00)" in html and "$12.99" in html
    client.force_login(user_factory(name="Mallory"))
    assert client.get(f"/purchases/{purchase.pk}/").status_code == 404
    assert client.get("/purchases/nonsense/").status_code == 404


def test_admin_refund_returns_the_credits_spent_and_takes_back_the_awards(
    client, staff_user, referrer, referred, product_factory
):
    give_credits(referred, 2)
    purchase = _purchase(referred, product_factory(price=Decimal("25.00")), credits=2)
    referred.refresh_from_db()
    assert referred.credits == 2  # 2 - 2 spent + 2 referral reward
    client.force_login(staff_user)

    response = client.post(
        "/admin/purchases/purchase/",
        {"action": "refund_selected", "_selected_action": [str(purchase.pk)]},
        follow=True,
    )

    assert "Refunded 1 purchase(s)" in response.content.decode()
    purchase.refresh_from_db()
    referred.refresh_from_db()
    referrer.refresh_from_db()
    assert purchase.status == "refunded" and purchase.refunded_at is not None
    # The 2 spent come back; both referral rewards (2 each) are taken back.
    assert referred.credits == 2 and referrer.credits == 0
    refund = CreditTransaction.objects.get(kind="refund")
    assert (refund.amount, refund.actor_id, refund.purchase_id) == (2, staff_user.pk, purchase.pk)
    clawbacks = CreditTransaction.objects.filter(kind="referral_clawback")
    assert sorted((c.user_id == referrer.pk, c.amount) for c in clawbacks) == [
        (False, -2),
        (True, -2),
    ]


def test_only_staff_who_may_change_purchases_can_refund(client, user, product_factory):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    purchase = _purchase(user, product_factory())
    viewer = UserFactory(name="Viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_purchase"))
    client.force_login(viewer)

    listing = client.get("/admin/purchases/purchase/").content.decode()
    refused = client.post(
        "/admin/purchases/purchase/",
        {"action": "refund_selected", "_selected_action": [str(purchase.pk)]},
    )

    assert "refund_selected" not in listing
    assert refused.status_code in (200, 302)
    purchase.refresh_from_db()
    assert purchase.status == "completed"


def test_admin_purchases_are_read_only_and_filterable(client, staff_user, user, product_factory):
    _purchase(user, product_factory(title="Listed"))
    client.force_login(staff_user)

    listing = client.get("/admin/purchases/purchase/?is_first_purchase__exact=1")

    assert listing.status_code == 200 and "Listed" in listing.content.decode()
    assert client.get("/admin/purchases/purchase/add/").status_code == 403
    purchase = Purchase.objects.get()
    change = client.get(f"/admin/purchases/purchase/{purchase.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()


def test_admin_credit_adjustment_needs_a_reason_and_records_the_staff_actor(
    client, staff_user, user
):
    client.force_login(staff_user)
    token = uuid.uuid4().hex

    missing = client.post(
        "/admin/credits/credittransaction/add/",
        {"token": token, "user": user.email, "amount": 5, "reason": "  "},
    )
    done = client.post(
        "/admin/credits/credittransaction/add/",
        {
            "token": token,
            "user": user.referral_code.lower(),
            "amount": 5,
            "reason": "Apology for the outage",
        },
    )
    repeat = client.post(
        "/admin/credits/credittransaction/add/",
        {"token": token, "user": user.email, "amount": 5, "reason": "Apology for the outage"},
    )

    assert "This field is required." in missing.content.decode()
    assert done.status_code == repeat.status_code == 302
    user.refresh_from_db()
    assert (user.credits, user.total_credits_earned) == (5, 5)
    entry = CreditTransaction.objects.get()
    assert (entry.amount, entry.kind, entry.actor_id, entry.reason) == (
        5,
        "adjustment",
        staff_user.pk,
        "Apology for the outage",
    )


def test_admin_adjustment_cannot_take_a_balance_below_zero(client, staff_user, user):
    give_credits(user, 1)
    client.force_login(staff_user)

    response = client.post(
        "/admin/credits/credittransaction/add/",
        {"token": uuid.uuid4().hex, "user": user.email, "amount": -2, "reason": "Clawback"},
    )

    assert "The balance is 1: it cannot go below zero." in response.content.decode()
    user.refresh_from_db()
    assert user.credits == 1


def test_customers_do_not_reach_the_ledger_admin(client, user):
    client.force_login(user)
    response = client.get("/admin/credits/credittransaction/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
