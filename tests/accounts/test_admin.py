"""The users admin: list columns, search, add through the service, safe edits."""

import pytest

from accounts.forms import UserAdminChangeForm
from accounts.models import User


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_user_list_shows_codes_balances_and_referrer(admin_client, referrer, user_factory):
    # Given
    referred = user_factory(name="Referred Person", referred_by=referrer)

    # When
    response = admin_client.get("/admin/accounts/user/")

    # Then
    content = response.content.decode()
    assert response.status_code == 200
    for column in (
        "column-referral_code",
        "column-credits",
        "column-total_credits_earned",
        "column-total_referred_users",
        "column-referred_by_link",
    ):
        assert column in content
    assert referred.referral_code in content
    assert f'/admin/accounts/user/{referrer.pk}/change/">Grace Hopper</a>' in content


def test_user_list_does_not_query_per_row(
    admin_client, referrer, user_factory, django_assert_max_num_queries
):
    # Given
    for _ in range(6):
        user_factory(referred_by=referrer)

    # When / Then: a fixed number of queries however many rows
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/accounts/user/")
    assert response.status_code == 200


@pytest.mark.parametrize("term", ["grace@example", "Hopper", "code-lower"])
def test_users_are_searchable_by_email_name_and_code(admin_client, referrer, user, term):
    # Given
    if term == "code-lower":
        term = referrer.referral_code.lower()

    # When
    response = admin_client.get("/admin/accounts/user/", {"q": term})

    # Then
    content = response.content.decode()
    assert referrer.referral_code in content
    assert user.referral_code not in content


def test_admin_adds_users_through_the_service(admin_client, mongo):
    # When
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "name": "Added By Staff",
            "email": "Added@Example.com",
            "password1": "staff-chosen-pass-1",
            "password2": "staff-chosen-pass-1",
        },
    )

    # Then
    assert response.status_code == 302
    stored = mongo.users.find_one({"email": "added@example.com"})
    assert stored["name"] == "Added By Staff"
    assert len(stored["referralCode"]) == 8
    assert stored["clerkUserId"].startswith("local_")
    assert response["Location"] == f"/admin/accounts/user/{stored['_id']}/change/"


def test_admin_add_refuses_an_email_taken_in_another_case(admin_client, user):
    # When
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "name": "Dup",
            "email": "ADA@example.com",
            "password1": "staff-chosen-pass-1",
            "password2": "staff-chosen-pass-1",
        },
    )

    # Then
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email="ada@example.com").count() == 1


def test_change_page_opens_and_saves_only_edited_fields(admin_client, user, mongo, monkeypatch):
    # Given
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200
    # a credit award lands while the save request runs, after it loaded the user
    original_clean = UserAdminChangeForm.clean

    def clean_during_an_award(form):
        User.objects.filter(pk=user.pk).update(credits=7, total_credits_earned=7)
        return original_clean(form)

    monkeypatch.setattr(UserAdminChangeForm, "clean", clean_during_an_award)

    # When
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "name": "Ada King",
            "email": "ada@example.com",
            "is_active": "on",
        },
    )

    # Then
    assert response.status_code == 302
    stored = mongo.users.find_one({"_id": user.pk})
    assert stored["name"] == "Ada King"
    assert stored["credits"] == 7
    assert stored["totalCreditsEarned"] == 7
