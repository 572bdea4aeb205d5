"""Offline verification of Clerk session tokens (RS256 JWTs).

Configured by CLERK_JWT_KEY (the instance's PEM public key, from the Clerk
dashboard) and CLERK_AUTHORIZED_PARTIES (the origins allowed in ``azp``).
Nothing here touches the network or the database.
"""

import functools
import logging

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings

logger = logging.getLogger(__name__)

SESSION_COOKIE = "__session"


class TokenRejected(Exception):
    """``reason`` is a short, data-free phrase fit for a log line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_configured() -> bool:
    return bool(settings.CLERK_JWT_KEY and settings.CLERK_AUTHORIZED_PARTIES)


@functools.lru_cache(maxsize=4)
def _public_key(pem: str):
    # Environment variables often carry the PEM's newlines as "\n".
    return load_pem_public_key(pem.replace("\\n", "\n").strip().encode())


def token_from_request(request) -> tuple[str | None, bool]:
    """``(token, from_header)``: the Authorization: Bearer token, else the __session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), True
    return request.COOKIES.get(SESSION_COOKIE) or None, False


def unverified_subject(token: str) -> str | None:
    """The ``sub`` claim without any check. Only for deciding to skip work."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.InvalidTokenError:
        return None
    return sub if isinstance(sub, str) else None


def verify(token: str) -> dict:
    """The token's claims if it is genuine, current and for us; else TokenRejected."""
    try:
        key = _public_key(settings.CLERK_JWT_KEY)
    except (ValueError, TypeError) as exc:
        raise TokenRejected("CLERK_JWT_KEY is not a PEM public key") from exc
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],  # never what the token's header asks for
            leeway=settings.CLERK_LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRejected("not yet valid") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("bad signature") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"missing claim {exc.claim}") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise TokenRejected("algorithm not allowed") from exc
    except jwt.DecodeError as exc:
        raise TokenRejected("malformed") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(f"invalid ({type(exc).__name__})") from exc
    # Clerk puts the origin that asked for the token in azp; a token minted
    # for another site must not sign anybody in here.
    if claims.get("azp") not in settings.CLERK_AUTHORIZED_PARTIES:
        raise TokenRejected("unauthorised party")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise TokenRejected("empty subject")
    return claims
