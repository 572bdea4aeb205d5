"""Sign-in and sign-up attempts are limited per IP address and per account."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts import ratelimit
from accounts.models import RateLimitBucket, User

PASSWORD = "correct-horse-battery"


@pytest.fixture
def low_limit(settings):
    settings.AUTH_RATE_LIMIT = 3
    settings.AUTH_RATE_WINDOW_SECONDS = 900
    return settings


def _login(client, email, password="wrong-password", ip="10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def test_login_is_refused_after_the_limit_even_with_the_right_password(client, user, low_limit):
    # Given: three failed attempts
    for _ in range(3):
        assert _login(client, "ada@example.com").status_code == 200

    # When
    response = _login(client, "ada@example.com", password=PASSWORD)

    # Then
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 900
    assert "_auth_user_id" not in client.session


def test_the_account_limit_holds_across_ip_addresses(client, user, low_limit):
    # Given
    for n in range(3):
        _login(client, "ada@example.com", ip=f"10.0.0.{n}")

    # When: a fourth address, same account (in another letter case)
    response = _login(client, "ADA@example.com", password=PASSWORD, ip="10.9.9.9")

    # Then
    assert response.status_code == 429


def test_the_ip_limit_holds_across_accounts(client, user, low_limit):
    # Given
    for n in range(3):
        _login(client, f"someone{n}@example.com", ip="10.0.0.7")

    # When
    response = _login(client, "ada@example.com", password=PASSWORD, ip="10.0.0.7")

    # Then
    assert response.status_code == 429


def test_other_visitors_are_not_affected(client, user, low_limit):
    # Given: one address and account exhausted
    for _ in range(4):
        _login(client, "mallory@example.com", ip="10.0.0.66")

    # When
    response = _login(client, "ada@example.com", password=PASSWORD, ip="10.0.0.1")

    # Then
    assert response.status_code == 302


def test_signup_attempts_count_against_the_same_limit(client, db, low_limit, signup_data):
    # Given
    for n in range(3):
        client.post(
            "/accounts/signup/",
            {**signup_data, "email": f"x{n}@example.com", "password": "1"},
            REMOTE_ADDR="10.1.1.1",
        )

    # When
    response = client.post("/accounts/signup/", signup_data, REMOTE_ADDR="10.1.1.1")

    # Then: refused, the form still filled in, nobody created
    assert response.status_code == 429
    content = response.content.decode()
    assert "Too many attempts" in content
    assert 'value="alan@example.com"' in content
    assert not User.objects.filter(email="alan@example.com").exists()


def test_password_reset_requests_are_limited_too(client, user, low_limit, mailoutbox):
    # Given
    for _ in range(3):
        client.post("/accounts/password_reset/", {"email": "ada@example.com"})

    # When
    response = client.post("/accounts/password_reset/", {"email": "ada@example.com"})

    # Then
    assert response.status_code == 429
    assert len(mailoutbox) == 3


def test_counters_store_no_raw_addresses_and_expire(client, user, low_limit, mongo):
    # When
    _login(client, "ada@example.com", ip="203.0.113.9")

    # Then
    buckets = list(mongo.rateLimits.find())
    assert len(buckets) == 2
    for bucket in buckets:
        assert "ada@example.com" not in bucket["key"]
        assert "203.0.113.9" not in bucket["key"]
        assert bucket["count"] == 1
        expires = bucket["expiresAt"]
        assert expires.replace(tzinfo=expires.tzinfo or UTC) > datetime.now(UTC)
    ttl = [
        index
        for index in mongo.rateLimits.index_information().values()
        if index["key"] == [("expiresAt", 1)]
    ]
    assert ttl and ttl[0]["expireAfterSeconds"] == 0


def test_a_new_window_starts_a_new_count(db, low_limit):
    # Given: a full window
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    for _ in range(4):
        exceeded = ratelimit.attempt_register(scope="auth", ip="10.0.0.1", email=None, now=start)
    assert exceeded is not None

    # When: the next window
    later = start + timedelta(seconds=900)
    exceeded = ratelimit.attempt_register(scope="auth", ip="10.0.0.1", email=None, now=later)

    # Then
    assert exceeded is None


def test_forwarded_address_is_used_only_behind_a_trusted_proxy(rf, settings):
    # Given
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")

    # Then
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_ip(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert ratelimit.client_ip(request) == "198.51.100.7"


def test_concurrent_attempts_are_all_counted(db, low_limit):
    # Given
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def attempt(_):
        try:
            return ratelimit.rate_limit_hit(key="race", window_seconds=900)[0]
        finally:
            connections.close_all()

    # When: 16 attempts at once, on fresh connections
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(attempt, range(16)))

    # Then: no lost update
    assert RateLimitBucket.objects.get(key__startswith="race:").count == 16
    assert max(counts) == 16
