"""Referral capture through the HTTP client: link, sign-up, stored documents."""

from datetime import datetime

from bson import ObjectId
from django.core.signing import Signer

from accounts.models import User
from referrals.capture import REFERRAL_COOKIE, REFERRAL_SESSION_KEY
from referrals.models import Referral


def test_referral_link_shows_the_invite_page_and_remembers_the_code(client, referrer):
    # When
    response = client.get(f"/r/{referrer.referral_code}/")

    # Then: who invited you, what you get and when, a way to sign up; the
    # code in the session and a 30-day signed cookie
    page = response.content.decode()
    assert response.status_code == 200
    assert "Grace Hopper</span> invited you to Referral Store" in page
    assert "get <strong>$20</strong> in credits" in page
    assert "As soon as they make their first purchase of $5 or more" in page
    assert 'href="/accounts/signup/"' in page
    assert client.session[REFERRAL_SESSION_KEY] == referrer.referral_code
    cookie = response.cookies[REFERRAL_COOKIE]
    assert cookie["max-age"] == 30 * 24 * 60 * 60
    assert cookie["httponly"]
    assert cookie.value != referrer.referral_code  # signed, not the bare code
    assert referrer.referral_code in cookie.value


def test_signup_page_after_the_link_shows_the_code_and_the_inviter(client, referrer):
    # Given
    client.get(f"/r/{referrer.referral_code}/")

    # When
    response = client.get("/accounts/signup/")

    # Then
    content = response.content.decode()
    assert response.status_code == 200
    assert "Invited by <strong>Grace Hopper</strong>" in content
    assert f'value="{referrer.referral_code}"' in content


def test_signed_cookie_alone_still_fills_in_the_code_in_a_new_session(client, referrer):
    # Given: the visitor came through the link, then the session ended
    response = client.get(f"/r/{referrer.referral_code}/")
    cookie_value = response.cookies[REFERRAL_COOKIE].value
    client.cookies.clear()
    client.cookies[REFERRAL_COOKIE] = cookie_value

    # When
    response = client.get("/accounts/signup/")

    # Then
    assert "Invited by <strong>Grace Hopper</strong>" in response.content.decode()


def test_a_forged_referral_cookie_is_ignored(client, referrer):
    # Given: a cookie with a valid code but the wrong signature
    client.cookies[REFERRAL_COOKIE] = Signer(salt="something-else").sign(referrer.referral_code)

    # When
    response = client.get("/accounts/signup/")

    # Then
    assert "Invited by" not in response.content.decode()


def test_signup_through_a_link_stores_the_documents_of_schema_md(
    client, referrer, mongo, signup_data
):
    # Given
    client.get(f"/r/{referrer.referral_code}/")

    # When
    response = client.post(
        "/accounts/signup/", {**signup_data, "referral_code": referrer.referral_code}
    )

    # Then: signed in and sent to the page written for invited friends
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    assert client.session.get("_auth_user_id")
    assert REFERRAL_SESSION_KEY not in client.session
    # the new user's document
    new = mongo.users.find_one({"email": "alan@example.com"})
    referrer_doc = mongo.users.find_one({"_id": referrer.pk})
    assert new["name"] == "Alan Turing"
    assert new["referredBy"] == referrer_doc["_id"]
    assert isinstance(new["referredBy"], ObjectId)
    assert isinstance(new["clerkUserId"], str) and new["clerkUserId"]
    assert len(new["referralCode"]) == 8 and new["referralCode"].isupper()
    assert new["credits"] == 0
    assert new["totalCreditsEarned"] == 0
    assert new["totalReferredUsers"] == 0
    assert isinstance(new["createdAt"], datetime) and isinstance(new["updatedAt"], datetime)
    # the referral document
    referrals = list(mongo.referrals.find())
    assert len(referrals) == 1
    referral = referrals[0]
    assert referral["referrerId"] == referrer_doc["_id"]
    assert referral["referredUserId"] == new["_id"]
    assert isinstance(referral["referrerId"], ObjectId)
    assert isinstance(referral["referredUserId"], ObjectId)
    assert referral["status"] == "pending"
    assert referral["creditsAwarded"] is False
    assert referral.get("convertedAt") is None
    assert isinstance(referral["createdAt"], datetime)
    assert isinstance(referral["updatedAt"], datetime)
    # the referrer's counter, moved once
    assert referrer_doc["totalReferredUsers"] == 1
    assert referrer_doc["updatedAt"] >= referrer_doc["createdAt"]


def test_signup_clears_the_remembered_code(client, referrer, signup_data):
    # Given
    client.get(f"/r/{referrer.referral_code}/")

    # When
    response = client.post(
        "/accounts/signup/", {**signup_data, "referral_code": referrer.referral_code}
    )

    # Then: the cookie is deleted (emptied, expired)
    assert response.cookies[REFERRAL_COOKIE].value == ""
    assert response.cookies[REFERRAL_COOKIE]["max-age"] == 0


def test_lower_case_code_in_the_link_is_accepted(client, referrer):
    # When
    response = client.get(f"/r/{referrer.referral_code.lower()}/")

    # Then
    assert response.status_code == 200
    assert client.session[REFERRAL_SESSION_KEY] == referrer.referral_code
    page = client.get("/accounts/signup/").content.decode()
    assert "Invited by <strong>Grace Hopper</strong>" in page


def test_lower_case_code_typed_into_the_form_refers_the_user(client, referrer, signup_data, mongo):
    # When
    response = client.post(
        "/accounts/signup/", {**signup_data, "referral_code": f" {referrer.referral_code.lower()} "}
    )

    # Then
    assert response.status_code == 302
    new = mongo.users.find_one({"email": "alan@example.com"})
    assert new["referredBy"] == referrer.pk
    assert mongo.referrals.count_documents({"referredUserId": new["_id"]}) == 1


def test_unknown_code_in_the_link_explains_itself_and_signup_stays_open(client, referrer):
    # When
    response = client.get("/r/ZZZZZZZZ/")

    # Then
    content = response.content.decode()
    assert response.status_code == 404
    assert "This invitation link doesn't work" in content
    assert "sign up without it" in content and 'href="/accounts/signup/"' in content
    assert "og:title" not in content
    assert REFERRAL_SESSION_KEY not in client.session
    assert REFERRAL_COOKIE not in response.client.cookies
    signup = client.get("/accounts/signup/").content.decode()
    assert '<form method="post" action="/accounts/signup/"' in signup
    assert "Invited by" not in signup


def test_malformed_code_in_the_link_is_treated_as_unknown(client, referrer):
    # When
    response = client.get("/r/not-a-code-at-all/")

    # Then
    assert response.status_code == 404
    assert "This invitation link doesn't work" in response.content.decode()
    assert REFERRAL_SESSION_KEY not in client.session


def test_unknown_code_typed_into_the_form_is_a_field_error(client, referrer, signup_data):
    # When
    response = client.post("/accounts/signup/", {**signup_data, "referral_code": "ZZZZZZZZ"})

    # Then: the page again, the error on the field, nobody created
    assert response.status_code == 200
    assert response.context["form"].errors["referral_code"] == [
        "No account has this referral code. Check it, or leave the field empty."
    ]
    assert not User.objects.filter(email="alan@example.com").exists()
    assert Referral.objects.count() == 0


def test_signup_without_a_code_creates_an_unreferred_user(client, referrer, signup_data, mongo):
    # When
    response = client.post("/accounts/signup/", signup_data)

    # Then
    assert response.status_code == 302
    new = mongo.users.find_one({"email": "alan@example.com"})
    assert new["referredBy"] is None
    assert mongo.referrals.count_documents({}) == 0
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 0


def test_signed_in_visitor_is_not_re_referred_by_a_link(client, user, referrer, mongo):
    # Given
    client.force_login(user)

    # When
    response = client.get(f"/r/{referrer.referral_code}/", follow=True)

    # Then
    assert "this invitation link does not apply to you" in response.content.decode()
    assert REFERRAL_SESSION_KEY not in client.session
    assert REFERRAL_COOKIE not in response.client.cookies
    assert mongo.users.find_one({"_id": user.pk})["referredBy"] is None
    assert mongo.referrals.count_documents({}) == 0


def test_own_link_while_signed_in_refers_nobody(client, referrer, mongo):
    # Given
    client.force_login(referrer)

    # When
    client.get(f"/r/{referrer.referral_code}/")
    response = client.post(
        "/accounts/signup/",
        {
            "name": "Grace Again",
            "email": "grace2@example.com",
            "password": "enigma-machine-1912",
            "referral_code": referrer.referral_code,
        },
    )

    # Then: sign-up is closed to a signed-in user; nothing was written
    assert response.status_code == 302
    assert mongo.users.count_documents({}) == 1
    assert mongo.referrals.count_documents({}) == 0
    assert mongo.users.find_one({"_id": referrer.pk})["referredBy"] is None


def test_own_code_with_own_address_cannot_create_a_self_referral(client, referrer, mongo):
    # When: the referrer signs up again with their own address and code
    response = client.post(
        "/accounts/signup/",
        {
            "name": "Grace Hopper",
            "email": "GRACE@example.com",
            "password": "a-different-pass-99",
            "referral_code": referrer.referral_code,
        },
    )

    # Then
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "An account with this e-mail address already exists."
    ]
    assert mongo.users.count_documents({}) == 1
    assert mongo.referrals.count_documents({}) == 0
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 0


def test_double_submit_creates_one_user_one_referral_and_counts_once(
    client, referrer, signup_data, mongo
):
    # Given
    data = {**signup_data, "referral_code": referrer.referral_code}

    # When: the same form is posted twice (a second client: the first answer was lost)
    first = client.post("/accounts/signup/", data)
    second_client = type(client)()
    second = second_client.post("/accounts/signup/", data)

    # Then: both end signed in as the same user; nothing exists twice
    assert first.status_code == 302 and second.status_code == 302
    assert first.wsgi_request.user.pk == second.wsgi_request.user.pk
    assert mongo.users.count_documents({"email": "alan@example.com"}) == 1
    assert mongo.referrals.count_documents({}) == 1
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1


def test_second_signup_with_a_taken_address_and_other_password_is_refused(
    client, referrer, signup_data, mongo
):
    # Given
    client.post("/accounts/signup/", {**signup_data, "referral_code": referrer.referral_code})
    other = type(client)()

    # When
    response = other.post(
        "/accounts/signup/",
        {
            **signup_data,
            "email": "ALAN@Example.com",
            "password": "someone-else-2024",
            "referral_code": referrer.referral_code,
        },
    )

    # Then
    assert response.status_code == 200
    assert "An account with this e-mail address already exists." in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({"email": "alan@example.com"}) == 1
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1


def test_retry_after_a_crash_between_user_and_referral_completes_the_referral(
    client, referrer, signup_data, mongo, monkeypatch
):
    # Given: the first submit stored the user, then died before the referral
    import referrals.services

    def crash(**kwargs):
        raise ConnectionError("process killed")

    monkeypatch.setattr(referrals.services, "referral_create", crash)
    data = {**signup_data, "referral_code": referrer.referral_code}
    try:
        client.post("/accounts/signup/", data)
    except ConnectionError:
        pass
    monkeypatch.undo()
    assert mongo.users.count_documents({"email": "alan@example.com"}) == 1
    assert mongo.referrals.count_documents({}) == 0

    # When: the browser submits again
    response = type(client)().post("/accounts/signup/", data)

    # Then
    assert response.status_code == 302
    assert mongo.users.count_documents({"email": "alan@example.com"}) == 1
    assert mongo.referrals.count_documents({}) == 1
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1
