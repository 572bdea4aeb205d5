import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection

CLERK_ORIGIN = "https://shop.example.com"


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
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="session")
def clerk_signing_key():
    """A throw-away RSA key standing in for the Clerk instance's key."""
    return _rsa_key()


@pytest.fixture(scope="session")
def foreign_signing_key():
    return _rsa_key()


@pytest.fixture
def clerk_settings(db, settings, clerk_signing_key):
    settings.CLERK_JWT_KEY = _public_pem(clerk_signing_key)
    settings.CLERK_AUTHORIZED_PARTIES = [CLERK_ORIGIN]
    settings.CLERK_LEEWAY_SECONDS = 5
    return settings


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
