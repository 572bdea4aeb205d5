"""Clerk sign-in: tokens verified offline, users created on first sight."""

import hashlib
import hmac
import json
import logging
import time

import pytest
from jwt.utils import base64url_encode

from accounts.models import User
from referrals.capture import REFERRAL_COOKIE
from tests.conftest import CLERK_ORIGIN

SUB = "user_2abcDEFghiJKLmnoPQRstu"


@pytest.fixture
def clerk_log(caplog):
    caplog.set_level(logging.INFO, logger="accounts.clerk")
    return caplog


def _signed_in_name(response) -> str | None:
    user = response.wsgi_request.user
    return user.name if user.is_authenticated else None


def test_valid_session_cookie_creates_and_signs_in_the_user(
    client, clerk_settings, clerk_token, mongo
):
    # Given
    client.cookies["__session"] = clerk_token(first_name="Katherine", last_name="Johnson")

    # When
    response = client.get("/")

    # Then: signed in (the page shows the name), one user with a referral code
    assert response.status_code == 200
    assert "Katherine Johnson" in response.content.decode()
    assert client.session["_auth_user_id"] == str(response.wsgi_request.user.pk)
    stored = mongo.users.find_one({"clerkUserId": SUB})
    assert stored["name"] == "Katherine Johnson"
    assert len(stored["referralCode"]) == 8
    assert stored["referredBy"] is None
    assert stored["email"] is None


def test_the_same_token_again_creates_nobody_new(client, clerk_settings, clerk_token, mongo):
    # Given
    client.cookies["__session"] = clerk_token(name="Dorothy Vaughan")
    client.get("/")

    # When: a second request, and a new browser with the same Clerk user
    client.get("/")
    other = type(client)()
    other.cookies["__session"] = clerk_token(name="Dorothy Vaughan")
    response = other.get("/")

    # Then
    assert _signed_in_name(response) == "Dorothy Vaughan"
    assert mongo.users.count_documents({"clerkUserId": SUB}) == 1


def test_existing_user_with_that_clerk_id_is_signed_in(
    client, clerk_settings, clerk_token, user_factory, mongo
):
    # Given
    existing = user_factory(name="Mary Jackson", email=None, password=None, clerk_user_id=SUB)

    # When
    client.cookies["__session"] = clerk_token(name="Another Name")
    response = client.get("/")

    # Then
    assert response.wsgi_request.user.pk == existing.pk
    assert mongo.users.count_documents({}) == 1
    assert mongo.users.find_one({"_id": existing.pk})["name"] == "Mary Jackson"


def test_bearer_header_authenticates_that_request_only(client, clerk_settings, clerk_token):
    # When
    response = client.get("/", HTTP_AUTHORIZATION=f"Bearer {clerk_token(name='Annie Easley')}")

    # Then
    assert _signed_in_name(response) == "Annie Easley"
    assert "_auth_user_id" not in client.session
    assert _signed_in_name(client.get("/")) is None


def test_without_name_claims_the_user_gets_a_default_name(
    client, clerk_settings, clerk_token, mongo
):
    # When
    client.cookies["__session"] = clerk_token()
    client.get("/")

    # Then
    assert mongo.users.find_one({"clerkUserId": SUB})["name"] == "Member"


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda make, foreign: make(lifetime=-60), "expired"),
        (lambda make, foreign: make(key=foreign), "bad signature"),
        (lambda make, foreign: make(azp="https://evil.example"), "unauthorised party"),
        (lambda make, foreign: make(azp=None), "unauthorised party"),
        (lambda make, foreign: make(nbf=int(time.time()) + 120, lifetime=600), "not yet valid"),
        (lambda make, foreign: make(sub=None), "missing claim sub"),
        (lambda make, foreign: "not.a.token", "malformed"),
    ],
    ids=["expired", "other-key", "foreign-azp", "no-azp", "not-yet-valid", "no-sub", "garbage"],
)
def test_a_bad_token_is_ignored_with_a_log_line(
    client, clerk_settings, clerk_token, foreign_signing_key, clerk_log, mongo, make_token, reason
):
    # Given
    token = make_token(clerk_token, foreign_signing_key)
    client.cookies["__session"] = token

    # When
    response = client.get("/")

    # Then: the page as for any visitor, nobody created, one short log line
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({}) == 0
    messages = [r.getMessage() for r in clerk_log.records if r.name == "accounts.clerk"]
    assert messages == [f"clerk token rejected: {reason}"]
    assert token not in clerk_log.text


def test_expiry_within_the_leeway_is_accepted(client, clerk_settings, clerk_token):
    # Given: expired two seconds ago, leeway five
    client.cookies["__session"] = clerk_token(lifetime=-2, name="Christine Darden")

    # When
    response = client.get("/")

    # Then
    assert _signed_in_name(response) == "Christine Darden"


def test_token_signed_with_hs256_and_the_public_key_is_rejected(
    client, clerk_settings, clerk_log, mongo
):
    # Given: the algorithm-confusion attack, the public key used as an HMAC secret
    now = int(time.time())
    header = base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
    payload = base64url_encode(
        json.dumps({"sub": "user_x", "azp": CLERK_ORIGIN, "nbf": now, "exp": now + 60}).encode()
    ).decode()
    signature = base64url_encode(
        hmac.new(
            clerk_settings.CLERK_JWT_KEY.encode(), f"{header}.{payload}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    client.cookies["__session"] = f"{header}.{payload}.{signature}"

    # When
    response = client.get("/")

    # Then
    assert not response.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({}) == 0
    assert [r.getMessage() for r in clerk_log.records if r.name == "accounts.clerk"] == [
        "clerk token rejected: algorithm not allowed"
    ]


def test_tokens_are_ignored_when_clerk_is_not_configured(client, settings, clerk_token, mongo):
    # Given
    settings.CLERK_JWT_KEY = ""
    client.cookies["__session"] = clerk_token(name="Nobody")

    # When
    response = client.get("/")

    # Then
    assert not response.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({}) == 0


def test_a_valid_token_for_another_user_replaces_the_session_user(
    client, clerk_settings, clerk_token, user
):
    # Given: signed in with a local account
    client.force_login(user)

    # When
    client.cookies["__session"] = clerk_token(name="Evelyn Boyd")
    response = client.get("/")

    # Then
    assert _signed_in_name(response) == "Evelyn Boyd"
    assert response.wsgi_request.user.pk != user.pk


def test_clerk_sign_up_through_a_referral_link_is_referred(
    client, clerk_settings, clerk_token, referrer, mongo
):
    # Given
    client.get(f"/r/{referrer.referral_code}/")

    # When
    client.cookies["__session"] = clerk_token(name="Referred Clerk User")
    response = client.get("/")

    # Then
    new = mongo.users.find_one({"clerkUserId": SUB})
    assert new["referredBy"] == referrer.pk
    referral = mongo.referrals.find_one({"referredUserId": new["_id"]})
    assert referral["referrerId"] == referrer.pk
    assert referral["status"] == "pending" and referral["creditsAwarded"] is False
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1
    assert response.cookies[REFERRAL_COOKIE].value == ""


def test_inactive_clerk_user_is_not_signed_in(
    client, clerk_settings, clerk_token, user_factory, clerk_log
):
    # Given
    blocked = user_factory(name="Blocked", email=None, password=None, clerk_user_id=SUB)
    User.objects.filter(pk=blocked.pk).update(is_active=False)

    # When
    client.cookies["__session"] = clerk_token()
    response = client.get("/")

    # Then
    assert not response.wsgi_request.user.is_authenticated
    assert "clerk token rejected: account inactive" in clerk_log.text
