"""Clerk session tokens against a stand-in instance: keys from its JWKS by kid,
the claims Clerk's manual-verification guide lists, and the shop's own rules."""

import logging
import time

import pytest

from tests.clerk_fake import ISSUER, rsa_key

SUB = "user_2verifyABCdef"
SID = "sess_2verifyABCdef"


@pytest.fixture
def clerk_log(caplog):
    caplog.set_level(logging.INFO, logger="accounts.clerk")
    return caplog


def _rejections(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "accounts.clerk" and r.getMessage().startswith("clerk token rejected")
    ]


def _visit(client, token):
    client.cookies["__session"] = token
    return client.get("/")


def test_a_valid_token_signs_in_and_ties_the_django_session_to_the_clerk_session(
    client, fake_clerk, mongo
):
    # Given
    fake_clerk.add_user(SUB, first_name="Katherine", last_name="Johnson")
    fake_clerk.add_session(SID, user_id=SUB)

    # When
    response = _visit(client, fake_clerk.token(sub=SUB, sid=SID))

    # Then: signed in, the sid in the session and in clerkSessions with that session's key
    assert response.wsgi_request.user.is_authenticated
    assert client.session["clerk_sid"] == SID
    stored = mongo.clerkSessions.find_one({"sessionId": SID})
    assert stored["sessionKey"] == client.session.session_key
    assert stored["endedAt"] is None
    assert mongo.users.find_one({"clerkUserId": SUB})["name"] == "Katherine Johnson"
    # the keys came from the JWKS once, with the secret key
    assert fake_clerk.count("GET /v1/jwks") == 1


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"lifetime": -60}, "expired"),
        ({"nbf": int(time.time()) + 120, "lifetime": 600}, "not yet valid"),
        ({"iss": "https://clerk.other-shop.example.com"}, "wrong issuer"),
        ({"iss": None}, "missing claim iss"),
        ({"azp": "https://evil.example"}, "unauthorised party"),
        ({"sid": None}, "missing claim sid"),
        ({"sid": "not-a-session"}, "sid is not a Clerk session id"),
        ({"sub": "local_0123456789abcdef0123456789abcdef"}, "subject is not a Clerk user id"),
        ({"sub": "erased_0123456789abcdef"}, "subject is not a Clerk user id"),
        ({"key": rsa_key()}, "bad signature"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-iss",
        "no-iss",
        "wrong-azp",
        "no-sid",
        "odd-sid",
        "local-sub",
        "erased-sub",
        "other-key",
    ],
)
def test_a_token_failing_a_check_signs_nobody_in(
    client, fake_clerk, clerk_log, mongo, claims, reason
):
    # When
    response = _visit(client, fake_clerk.token(**claims))

    # Then
    assert not response.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({}) == 0
    assert _rejections(clerk_log) == [f"clerk token rejected: {reason}"]


def test_a_local_accounts_synthetic_id_as_sub_does_not_sign_into_that_account(
    client, fake_clerk, user_factory, clerk_log
):
    # Given: a password account and its placeholder clerkUserId
    account = user_factory(name="Local Only", email="local@example.com")
    assert account.clerk_user_id.startswith("local_")

    # When: a correctly signed token names it
    response = _visit(client, fake_clerk.token(sub=account.clerk_user_id))

    # Then
    assert not response.wsgi_request.user.is_authenticated
    assert _rejections(clerk_log) == ["clerk token rejected: subject is not a Clerk user id"]


def test_expiry_within_the_leeway_is_accepted(client, fake_clerk):
    fake_clerk.add_user(SUB)
    response = _visit(client, fake_clerk.token(sub=SUB, lifetime=-2))
    assert response.wsgi_request.user.is_authenticated


def test_a_rotated_key_is_fetched_once_on_its_unknown_kid(client, fake_clerk, settings, mongo):
    # Given: a sign-in with the first key has cached the JWKS
    settings.CLERK_JWKS_REFETCH_SECONDS = 0
    fake_clerk.add_user(SUB)
    assert _visit(client, fake_clerk.token(sub=SUB, sid="sess_first")).wsgi_request.user.pk
    assert fake_clerk.count("GET /v1/jwks") == 1

    # When: Clerk rotates its key; a new browser brings a token with the new kid, twice
    new_kid = fake_clerk.rotate()
    other = type(client)()
    first = _visit(other, fake_clerk.token(sub=SUB, sid="sess_second"))
    again = _visit(type(client)(), fake_clerk.token(sub=SUB, sid="sess_third"))

    # Then: both signed in; the JWKS was fetched once more, not once per token
    assert first.wsgi_request.user.is_authenticated
    assert again.wsgi_request.user.is_authenticated
    assert fake_clerk.kid == new_kid
    assert fake_clerk.count("GET /v1/jwks") == 2


def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
    client, fake_clerk, settings, clerk_log
):
    # Given
    settings.CLERK_JWKS_REFETCH_SECONDS = 30
    fake_clerk.add_user(SUB)
    _visit(client, fake_clerk.token(sub=SUB))
    assert fake_clerk.count("GET /v1/jwks") == 1

    # When: tokens with made-up kids (from a key Clerk never published)
    stranger = rsa_key()
    for n in range(3):
        _visit(type(client)(), fake_clerk.token(sub=SUB, kid=f"ins_made_up_{n}", key=stranger))

    # Then: refused without another fetch inside the interval
    assert _rejections(clerk_log) == ["clerk token rejected: unknown key id"] * 3
    assert fake_clerk.count("GET /v1/jwks") == 1


def test_clerk_jwt_key_verifies_without_the_network(client, fake_clerk, settings):
    # Given: the instance's PEM in CLERK_JWT_KEY (the networkless alternative)
    from cryptography.hazmat.primitives import serialization

    kid, key = fake_clerk.keys[-1]
    settings.CLERK_JWT_KEY = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings.CLERK_SECRET_KEY = ""

    # When
    response = _visit(client, fake_clerk.token(sub=SUB))

    # Then: signed in, and the stand-in instance was never asked anything
    assert response.wsgi_request.user.is_authenticated
    assert fake_clerk.calls == []


def test_the_issuer_is_the_frontend_api_named_by_the_publishable_key(fake_clerk):
    from accounts import clerk

    assert clerk.frontend_api_url() == ISSUER
    assert clerk.frontend_api_host("pk_live_" + "bm90IGEga2V5") is None
    assert clerk.clerk_js_url() == f"{ISSUER}/npm/@clerk/clerk-js@6/dist/clerk.browser.js"


def test_jwks_unavailable_refuses_the_token_without_an_error_page(client, fake_clerk, clerk_log):
    # Given
    fake_clerk.down = True

    # When
    response = _visit(client, fake_clerk.token(sub=SUB))

    # Then
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    assert _rejections(clerk_log) == ["clerk token rejected: signing keys unavailable"]


def _check_ids(settings) -> list[str]:
    from accounts.checks import clerk_settings_check

    return sorted(problem.id for problem in clerk_settings_check(None))


def test_the_start_up_check_names_what_is_missing(fake_clerk, settings):
    assert _check_ids(settings) == []
    settings.CLERK_PUBLISHABLE_KEY = "pk_test_bm90LWEtaG9zdA"  # "not-a-host", no "$"
    assert _check_ids(settings) == ["accounts.E002"]
    settings.CLERK_PUBLISHABLE_KEY = fake_clerk_publishable_key()
    settings.CLERK_SECRET_KEY = ""
    assert _check_ids(settings) == ["accounts.W003"]
    settings.CLERK_JWT_KEY = "not a pem"
    assert _check_ids(settings) == ["accounts.E001", "accounts.W004"]
    settings.CLERK_AUTHORIZED_PARTIES = []
    assert "accounts.W001" in _check_ids(settings)


def fake_clerk_publishable_key() -> str:
    from tests.clerk_fake import PUBLISHABLE_KEY

    return PUBLISHABLE_KEY
