"""Fixtures every test folder shares: users, the raw database, purchases, Clerk tokens."""

import time
from decimal import Decimal

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection

from accounts import clerk
from purchases.models import Purchase
from referrals.services import referral_create
from tests import clerk_fake
from tests.factories import ProductFactory, UserFactory

CLERK_ORIGIN = clerk_fake.ORIGIN


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def product_factory(db):
    return ProductFactory


@pytest.fixture
def user(user_factory):
    return user_factory(name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def staff_user(db):
    return UserFactory(
        name="Staff Member", email="staff@example.com", is_staff=True, is_superuser=True
    )


@pytest.fixture
def mongo(db):
    """The raw pymongo database, to read documents exactly as stored."""
    connection.ensure_connection()
    return connection.database


@pytest.fixture
def referrer(user_factory):
    return user_factory(name="Grace Hopper", email="grace@example.com")


@pytest.fixture
def signup_data():
    return {
        "name": "Alan Turing",
        "email": "alan@example.com",
        "password": "enigma-machine-1912",
        "referral_code": "",
    }


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="session")
def clerk_signing_key():
    """A throw-away RSA key standing in for the Clerk instance's key."""
    return _rsa_key()


@pytest.fixture(scope="session")
def foreign_signing_key():
    return _rsa_key()


@pytest.fixture
def clerk_settings(db, settings, clerk_signing_key):
    """Clerk on, networkless: the instance's one PEM key in CLERK_JWT_KEY, no secret key."""
    settings.CLERK_PUBLISHABLE_KEY = clerk_fake.PUBLISHABLE_KEY
    settings.CLERK_SECRET_KEY = ""
    settings.CLERK_JWT_KEY = _public_pem(clerk_signing_key)
    settings.CLERK_AUTHORIZED_PARTIES = [CLERK_ORIGIN]
    settings.CLERK_LEEWAY_SECONDS = 5
    return settings


@pytest.fixture(scope="session")
def _fake_clerk_server():
    server = clerk_fake.FakeClerk()
    yield server
    server.close()


@pytest.fixture
def fake_clerk(db, settings, _fake_clerk_server):
    """Clerk on against a local stand-in instance (tests/clerk_fake.py): keys from its
    JWKS by kid, session checks, sign-out and user deletion through its Backend API,
    webhooks signed with a fresh svix secret."""
    _fake_clerk_server.reset()
    clerk.jwks_cache_clear()
    settings.CLERK_PUBLISHABLE_KEY = clerk_fake.PUBLISHABLE_KEY
    settings.CLERK_SECRET_KEY = clerk_fake.SECRET_KEY
    settings.CLERK_API_URL = _fake_clerk_server.url
    settings.CLERK_JWT_KEY = ""
    settings.CLERK_AUTHORIZED_PARTIES = [CLERK_ORIGIN]
    settings.CLERK_LEEWAY_SECONDS = 5
    settings.CLERK_WEBHOOK_SECRET = clerk_fake.webhook_secret()
    yield _fake_clerk_server
    clerk.jwks_cache_clear()


@pytest.fixture
def clerk_token(clerk_signing_key):
    """Build a signed Clerk-like session token; keyword overrides change claims."""

    def make(*, key=None, sub="user_2abcDEFghiJKLmnoPQRstu", lifetime=60, **claims):
        now = int(time.time())
        payload = {
            "sub": sub,
            "azp": CLERK_ORIGIN,
            "iss": "https://clerk.shop.example.com",
            "sid": "sess_123",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key or clerk_signing_key, algorithm="RS256")

    return make


@pytest.fixture
def referred(user_factory, referrer):
    """Bob, who signed up through ``referrer``'s link (referral recorded and counted)."""
    buyer = user_factory(name="Bob Buyer", email="bob@example.com", referred_by=referrer)
    referral_create(referrer=referrer, referred_user=buyer)
    referrer.refresh_from_db()
    return buyer


@pytest.fixture
def make_purchase(db):
    """Purchases written directly, completed unless a status is given."""

    def make(
        *, user, product, amount, credits_used=0, credit_amount="0.00", status="completed", **extra
    ):
        amount, credit_amount = Decimal(amount), Decimal(credit_amount)
        return Purchase.objects.create(
            user=user,
            product=product,
            product_name=product.title,
            amount=amount,
            credits_used=credits_used,
            credit_amount=credit_amount,
            cash_amount=amount - credit_amount,
            status=status,
            **extra,
        )

    return make


@pytest.fixture(autouse=True)
def _no_stored_files_left(request, django_db_blocker):
    """GridFS's collections are not models, so the test database's flush misses them."""
    yield
    if {"db", "transactional_db"} & set(request.fixturenames):
        with django_db_blocker.unblock():
            connection.ensure_connection()
            for name in ("fs.files", "fs.chunks"):
                connection.database[name].delete_many({})
