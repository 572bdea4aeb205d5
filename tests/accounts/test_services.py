"""Service-level rules of users: referral codes, unique e-mail addresses, Clerk ids."""

import pytest

import accounts.models
import accounts.services
from accounts.models import REFERRAL_CODE_ALPHABET, User
from accounts.services import user_create


def test_every_new_user_gets_an_eight_character_code_without_look_alikes(user_factory):
    # When
    users = [user_factory() for _ in range(20)]

    # Then
    codes = [user.referral_code for user in users]
    assert len(set(codes)) == 20
    for code in codes:
        assert len(code) == 8
        assert set(code) <= set(REFERRAL_CODE_ALPHABET)
        assert not set(code) & set("01OI")


def test_code_collision_is_retried_with_a_new_code(user_factory, monkeypatch, mongo):
    # Given: the generator first offers a code that is already taken
    taken = user_factory(name="Existing").referral_code
    offered = iter([taken, "FRESH234"])
    monkeypatch.setattr(accounts.models, "referral_code_generate", lambda: next(offered))

    # When
    user = user_create(email="new@example.com", password="x-y-z-secret", name="New")

    # Then
    assert user.referral_code == "FRESH234"
    assert mongo.users.find_one({"email": "new@example.com"})["referralCode"] == "FRESH234"
    assert mongo.users.count_documents({"referralCode": taken}) == 1


def test_code_collision_during_signup_through_the_site_shows_no_error(
    client, user_factory, monkeypatch, mongo, signup_data
):
    # Given
    taken = user_factory(name="Existing").referral_code
    offered = iter([taken, taken, "FRESH567"])
    monkeypatch.setattr(accounts.models, "referral_code_generate", lambda: next(offered))

    # When
    response = client.post("/accounts/signup/", signup_data)

    # Then
    assert response.status_code == 302
    assert mongo.users.find_one({"email": "alan@example.com"})["referralCode"] == "FRESH567"


def test_local_accounts_get_distinct_stable_clerk_user_ids(user_factory, mongo):
    # Given
    first, second = user_factory(), user_factory()

    # When: the user is saved again
    first.name = "Renamed"
    first.save(update_fields=["name"])

    # Then
    stored = mongo.users.find_one({"_id": first.pk})["clerkUserId"]
    assert stored == first.clerk_user_id
    assert stored.startswith("local_")
    assert stored != second.clerk_user_id


def test_emails_are_unique_regardless_of_case(user_factory):
    # Given
    user_factory(email="Ada@Example.com")

    # When / Then
    with pytest.raises(accounts.services.EmailTaken):
        user_create(email="ADA@EXAMPLE.COM", password="whatever-123", name="Other")
    assert User.objects.filter(email="ada@example.com").count() == 1
