"""The per-user activity page in the users admin (audit trail for staff)."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission

from accounts.models import User
from backoffice import activity
from backoffice.gdpr import user_erase
from credits.services import credits_adjust, credits_grant
from purchases.services import purchase_checkout
from referrals.services import referral_create


@pytest.fixture
def ada(user_factory, product_factory, referrer, staff_user):
    """Referred by Grace, refers Bob; a staff adjustment, a purchase, an admin edit."""
    ada = user_factory(name="Ada Lovelace", email="ada@example.com", referred_by=referrer)
    referral_create(referrer=referrer, referred_user=ada)
    bob = user_factory(name="Bob Babbage", email="bob@example.com", referred_by=ada)
    referral_create(referrer=ada, referred_user=bob)
    credits_adjust(
        user=ada,
        amount=3,
        reason="goodwill for a late download",
        actor=staff_user,
        idempotency_key=f"test:{uuid.uuid4().hex}",
    )
    purchase_checkout(
        user=User.objects.get(pk=ada.pk),
        product=product_factory(title="Clean Code", price=Decimal("32.99")),
        credits_used=0,
        token=uuid.uuid4().hex,
        payment_method_id="pm_card_visa",
    )
    LogEntry.objects.log_actions(
        user_id=staff_user.pk,
        queryset=[ada],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Name"]}}],
    )
    ada.bob = bob
    return User.objects.get(pk=ada.pk)


def activity_url(user) -> str:
    return f"/admin/accounts/user/{user.pk}/activity/"


def test_activity_page_shows_the_whole_trail_for_staff(client, staff_user, ada, referrer):
    # Given
    client.force_login(staff_user)
    bob = User.objects.get(email="bob@example.com")

    # When
    response = client.get(activity_url(ada))

    # Then
    content = response.content.decode()
    assert response.status_code == 200
    # key fields
    assert ada.referral_code in content
    assert "ada@example.com" in content
    assert str(referrer.pk) in content
    assert ada.credits == 5  # 3 by staff + 2 referral reward on the first purchase
    assert '<td class="activity-credits">5</td>' in content
    # the ledger, with the staff member as actor
    assert "goodwill for a late download" in content
    assert "Staff adjustment" in content
    assert "Referral reward (you were referred)" in content
    assert f"<code>{staff_user.pk}</code></a> (Staff Member)" in content
    # the purchase
    assert "Clean Code" in content
    assert "32.99" in content
    assert "Completed" in content
    # referrals both ways
    assert f"<code>{bob.pk}</code></a> (Bob Babbage)" in content
    assert f"<code>{referrer.pk}</code></a> (Grace Hopper)" in content
    # the admin log about the user
    assert "Changed Name." in content
    assert "Credit ledger (2)" in content
    assert "Purchases (1)" in content
    assert "Referrals made (1)" in content


def test_activity_shows_admin_refunds_of_the_users_purchases(client, staff_user, ada):
    # Given: staff refund Ada's purchase with the purchases admin action
    client.force_login(staff_user)
    purchase = ada.purchases.get()
    refund = client.post(
        "/admin/purchases/purchase/",
        {"action": "refund_selected", "_selected_action": [str(purchase.pk)]},
    )
    assert refund.status_code == 302

    # When
    response = client.get(activity_url(ada))

    # Then
    related = response.context["related_log"]
    assert [entry.object_id for entry in related] == [str(purchase.pk)]
    assert related[0].user_id == staff_user.pk
    assert "Refunded" in response.content.decode()


def test_change_page_links_to_the_activity_page(client, staff_user, ada):
    client.force_login(staff_user)

    response = client.get(f"/admin/accounts/user/{ada.pk}/change/")

    assert response.status_code == 200
    assert f'href="{activity_url(ada)}">Activity</a>' in response.content.decode()


def test_activity_page_is_refused_to_customers_and_visitors(client, ada, user_factory):
    # Given
    customer = user_factory(name="Curious Customer", email="curious@example.com")

    # When
    anonymous = client.get(activity_url(ada))
    client.force_login(customer)
    signed_in = client.get(activity_url(ada))

    # Then: both sent to the admin's login page, nothing shown
    for response in (anonymous, signed_in):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_activity_page_needs_view_permission_on_users(client, ada, user_factory):
    # Given: staff, but without the permission to view users
    clerk = user_factory(name="Catalog Clerk", email="clerk@example.com", is_staff=True)
    client.force_login(clerk)
    assert client.get(activity_url(ada)).status_code == 403

    # When: given the view permission
    clerk.user_permissions.add(Permission.objects.get(codename="view_user"))

    # Then
    assert client.get(activity_url(ada)).status_code == 200


def test_activity_page_for_an_unknown_user_goes_back_to_the_list(client, staff_user):
    client.force_login(staff_user)

    response = client.get("/admin/accounts/user/0123456789abcdef01234567/activity/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_sections_are_capped_and_say_how_many_there_are(client, staff_user, ada, monkeypatch):
    # Given: more ledger entries (2) than the cap
    monkeypatch.setattr(activity, "ACTIVITY_LIMIT", 1)
    client.force_login(staff_user)

    # When
    response = client.get(activity_url(ada))

    # Then: the newest one, and the total of two
    ledger = response.context["ledger"]
    assert (len(ledger.rows), ledger.total) == (1, 2)
    assert [entry.kind for entry in ledger.rows] == ["referral_reward_referred"]
    assert "Credit ledger (2; latest 1 shown)" in response.content.decode()


def test_activity_page_makes_a_fixed_number_of_queries(
    client, staff_user, ada, django_assert_max_num_queries
):
    # Given: many rows in every section
    for n in range(8):
        credits_grant(
            user_id=ada.pk,
            amount=1,
            kind="adjustment",
            idempotency_key=f"test:{uuid.uuid4().hex}",
            reason=f"bonus {n}",
            actor_id=staff_user.pk,
        )
    client.force_login(staff_user)

    # When / Then: no query per row, no join
    with django_assert_max_num_queries(13) as queries:
        response = client.get(activity_url(ada))
    assert response.status_code == 200
    assert not any("$lookup" in str(query["sql"]) for query in queries.captured_queries)


def test_activity_page_shows_an_erased_user_by_id(client, staff_user, ada):
    # Given
    user_erase(user=ada)
    client.force_login(staff_user)

    # When
    response = client.get(activity_url(ada))

    # Then: the books are there, the personal data is not
    content = response.content.decode()
    assert response.status_code == 200
    assert "Deleted user (personal data erased)" in content
    assert "ada@example.com" not in content
    assert "Lovelace" not in content
    assert "Clean Code" in content
    assert "Personal data erased (GDPR)" in content
