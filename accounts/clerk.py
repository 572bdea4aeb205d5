"""Clerk: session-token verification and the few Backend API calls the shop makes.

Settings (README, "Signing in with Clerk"): CLERK_PUBLISHABLE_KEY names the
instance (its Frontend API host is encoded in it, and is the tokens' ``iss``);
CLERK_SECRET_KEY authenticates Backend API calls (CLERK_API_URL); the
signing keys come from the instance's JWKS (``GET /v1/jwks``) by ``kid``, or
from CLERK_JWT_KEY (one PEM) for networkless verification;
CLERK_AUTHORIZED_PARTIES lists the origins allowed in ``azp``.

Verification is PyJWT, not the SDK's ``authenticate_request``/``verify_token``
(clerk_backend_api.security): that one skips ``iss`` (``verify_iss: False``),
requires neither ``nbf`` nor ``sid``, accepts any ``sub``, and on an unknown
``kid`` fetches the JWKS again on every such token (up to ten tries each),
which lets garbage tokens make the site hammer Clerk. Here an unknown kid
refetches the JWKS at most once per CLERK_JWKS_REFETCH_SECONDS. The SDK
(``clerk_backend_api.Clerk``) is used for the Backend API calls on sessions
and users.
"""

import base64
import binascii
import functools
import logging
import re
import threading
import time
from dataclasses import dataclass

import httpx
import jwt
from clerk_backend_api import Clerk, models, utils
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)

SESSION_COOKIE = "__session"
# The Clerk session id in the Django session it made (the tie of point 3).
SID_SESSION_KEY = "clerk_sid"
# Cookies ClerkJS sets on the shop's own domain (the session token, the
# client's "last updated" mark, the development browser), plain and with a
# per-instance suffix: cleared at sign-out.
CLERK_COOKIES = ("__session", "__client_uat", "__clerk_db_jwt")


def clerk_cookie_names(request) -> list[str]:
    """The Clerk cookies this request carries."""
    return [
        name
        for name in request.COOKIES
        if name in CLERK_COOKIES or name.startswith(tuple(f"{c}_" for c in CLERK_COOKIES))
    ]


# Clerk user ids look like "user_2abc..."; local accounts carry "local_...",
# erased ones "erased_...": neither may ever be a token's subject.
USER_ID_SHAPE = re.compile(r"^user_[A-Za-z0-9]{1,58}$")
SESSION_ID_SHAPE = re.compile(r"^sess_[A-Za-z0-9]{1,59}$")
# Backend API calls must not hold a request (or a gunicorn worker) for long.
API_TIMEOUT_SECONDS = 5.0


class TokenRejected(Exception):
    """``reason`` is a short, data-free phrase fit for a log line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ClerkUnavailable(Exception):
    """The Backend API could not be asked (network, 5xx, bad answer)."""


class ClerkUserMissing(Exception):
    """Clerk has no such user (deleted since the token was minted)."""


# --- The instance ----------------------------------------------------------------


def frontend_api_host(publishable_key: str) -> str | None:
    """The Frontend API host encoded in a publishable key (``pk_test_<base64 of "host$">``)."""
    prefix, _, encoded = (publishable_key or "").partition("_test_")
    if not encoded:
        prefix, _, encoded = (publishable_key or "").partition("_live_")
    if prefix != "pk" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not decoded.endswith("$") or not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?\$", decoded):
        return None
    return decoded[:-1]


def frontend_api_url() -> str | None:
    """``https://<Frontend API host>``: the tokens' issuer and ClerkJS's origin."""
    if settings.CLERK_FRONTEND_API:
        return settings.CLERK_FRONTEND_API.rstrip("/")
    host = frontend_api_host(settings.CLERK_PUBLISHABLE_KEY)
    return f"https://{host}" if host else None


def clerk_js_url() -> str | None:
    if settings.CLERK_JS_URL:
        return settings.CLERK_JS_URL
    base = frontend_api_url()
    if not base:
        return None
    return f"{base}/npm/@clerk/clerk-js@{settings.CLERK_JS_VERSION}/dist/clerk.browser.js"


def is_configured() -> bool:
    """Clerk sign-in is on: an instance, a way to get its keys, and the allowed origins."""
    return bool(
        frontend_api_url()
        and (settings.CLERK_SECRET_KEY or settings.CLERK_JWT_KEY)
        and settings.CLERK_AUTHORIZED_PARTIES
    )


def has_backend_api() -> bool:
    return bool(settings.CLERK_SECRET_KEY)


# --- Keys --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _public_key(pem: str):
    # Environment variables often carry the PEM's newlines as "\n".
    return load_pem_public_key(pem.replace("\\n", "\n").strip().encode())


class _JwksCache:
    """The instance's public keys by kid, per process.

    Public data, so a per-process copy is harmless (each worker fetches it
    once per CLERK_JWKS_CACHE_SECONDS); an unknown kid (a rotated key)
    refetches at most once per CLERK_JWKS_REFETCH_SECONDS.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self._keys: dict[str, object] = {}
        self._fetched_at = float("-inf")
        self._source = None

    def key(self, kid: str):
        source = (settings.CLERK_API_URL, settings.CLERK_SECRET_KEY)
        with self._lock:
            now = time.monotonic()
            if source != self._source or now - self._fetched_at > settings.CLERK_JWKS_CACHE_SECONDS:
                self._refresh(source, now)
            elif kid not in self._keys and (
                now - self._fetched_at >= settings.CLERK_JWKS_REFETCH_SECONDS
            ):
                self._refresh(source, now)
            return self._keys.get(kid)

    def _refresh(self, source, now) -> None:
        keys = {}
        for jwk in jwks_fetch().get("keys") or []:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
                continue
            try:
                keys[jwk["kid"]] = RSAAlgorithm.from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError):
                continue
        self._keys, self._fetched_at, self._source = keys, now, source


_jwks = _JwksCache()


def jwks_cache_clear() -> None:
    _jwks.clear()


def _api_url(path: str) -> str:
    return f"{settings.CLERK_API_URL.rstrip('/')}/v1{path}"


def _api_headers() -> dict:
    return {"Authorization": f"Bearer {settings.CLERK_SECRET_KEY}", "Accept": "application/json"}


def jwks_fetch() -> dict:
    """``GET /v1/jwks`` with the secret key."""
    try:
        response = httpx.get(_api_url("/jwks"), headers=_api_headers(), timeout=API_TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ClerkUnavailable(f"JWKS fetch failed ({type(exc).__name__})") from exc


def _signing_key(token: str):
    if settings.CLERK_JWT_KEY:
        try:
            return _public_key(settings.CLERK_JWT_KEY)
        except (ValueError, TypeError) as exc:
            raise TokenRejected("CLERK_JWT_KEY is not a PEM public key") from exc
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as exc:
        raise TokenRejected("malformed") from exc
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("no key id")
    try:
        key = _jwks.key(kid)
    except ClerkUnavailable as exc:
        logger.warning("clerk jwks unavailable: %s", exc)
        raise TokenRejected("signing keys unavailable") from exc
    if key is None:
        raise TokenRejected("unknown key id")
    return key


# --- Tokens ------------------------------------------------------------------------


def token_from_request(request) -> tuple[str | None, bool]:
    """``(token, from_header)``: the Authorization: Bearer token, else the __session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), True
    token = request.COOKIES.get(SESSION_COOKIE)
    if not token:
        # Newer ClerkJS also writes a copy suffixed per instance (__session_<suffix>).
        token = next(
            (value for name, value in request.COOKIES.items() if name.startswith("__session_")),
            None,
        )
    return token or None, False


def unverified_claims(token: str) -> dict:
    """The claims without any check. Only for deciding to skip work."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}
    return claims if isinstance(claims, dict) else {}


def unverified_subject(token: str) -> str | None:
    sub = unverified_claims(token).get("sub")
    return sub if isinstance(sub, str) else None


def verify(token: str) -> dict:
    """The claims of a genuine, current Clerk session token for this site; else TokenRejected.

    RS256 only (never what the header asks for); exp and nbf with
    CLERK_LEEWAY_SECONDS; iss is the instance's Frontend API; azp one of
    CLERK_AUTHORIZED_PARTIES; sid a session id; sub a Clerk user id.
    """
    issuer = frontend_api_url()
    if not issuer:
        raise TokenRejected("no Clerk instance configured")
    key = _signing_key(token)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            leeway=settings.CLERK_LEEWAY_SECONDS,
            issuer=issuer,
            options={"require": ["exp", "nbf", "iat", "iss", "sub", "sid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRejected("not yet valid") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("bad signature") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"missing claim {exc.claim}") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenRejected("wrong issuer") from exc
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
    if not isinstance(sub, str) or not USER_ID_SHAPE.match(sub):
        # e.g. "local_..." (a password account's placeholder id): never a Clerk user.
        raise TokenRejected("subject is not a Clerk user id")
    sid = claims.get("sid")
    if not isinstance(sid, str) or not SESSION_ID_SHAPE.match(sid):
        raise TokenRejected("sid is not a Clerk session id")
    return claims


# --- Backend API -------------------------------------------------------------------


# The SDK's default for a 5xx is to retry with backoff for up to an hour,
# which would hold a request (a sign-out, a page) that long: here at most
# about two seconds of retries, then ClerkUnavailable.
_RETRIES = utils.RetryConfig("backoff", utils.BackoffStrategy(200, 1000, 2.0, 2000), False)


def _sdk() -> Clerk:
    return Clerk(
        bearer_auth=settings.CLERK_SECRET_KEY,
        server_url=_api_url(""),
        timeout_ms=int(API_TIMEOUT_SECONDS * 1000),
        retry_config=_RETRIES,
    )


def _status_code(exc: Exception) -> int | None:
    return getattr(exc, "status_code", None)


def _backend_call(what: str, call, *, gone: tuple[int, ...], when_gone=None):
    """``call(sdk)``'s answer; ``when_gone`` if Clerk answers one of the ``gone`` statuses.

    Any other refusal, or no answer, is ClerkUnavailable naming ``what``.
    """
    try:
        with _sdk() as sdk:
            return call(sdk)
    except models.ClerkBaseError as exc:
        if _status_code(exc) in gone:
            return when_gone
        raise ClerkUnavailable(f"{what} failed (HTTP {_status_code(exc)})") from exc
    except (httpx.HTTPError, ValueError, models.NoResponseError) as exc:
        raise ClerkUnavailable(f"{what} failed ({type(exc).__name__})") from exc


def clerk_session_status(*, session_id: str) -> str:
    """``GET /v1/sessions/{id}``: "active", "revoked", "ended", ...; "missing" on 404."""
    status = _backend_call(
        "session lookup",
        lambda sdk: sdk.sessions.get(session_id=session_id).status,
        gone=(404,),
        when_gone="missing",
    )
    return str(getattr(status, "value", status))


def clerk_session_revoke(*, session_id: str) -> None:
    """``POST /v1/sessions/{id}/revoke``; a session Clerk no longer has counts as revoked."""
    # 400: already ended; 404: gone.
    _backend_call(
        "session revoke", lambda sdk: sdk.sessions.revoke(session_id=session_id), gone=(400, 404)
    )


def clerk_user_delete(*, clerk_user_id: str) -> None:
    """``DELETE /v1/users/{id}``; a user Clerk no longer has counts as deleted."""
    _backend_call("user delete", lambda sdk: sdk.users.delete(user_id=clerk_user_id), gone=(404,))


@dataclass(frozen=True)
class ClerkProfile:
    name: str
    verified_email: str | None


def profile_from_user_object(data: dict) -> ClerkProfile:
    """Name and verified primary e-mail from a Clerk User object (Backend API or webhook)."""
    first = data.get("first_name") if isinstance(data.get("first_name"), str) else ""
    last = data.get("last_name") if isinstance(data.get("last_name"), str) else ""
    name = f"{first} {last}".strip()
    primary_id = data.get("primary_email_address_id")
    email = None
    for address in data.get("email_addresses") or []:
        if not isinstance(address, dict) or address.get("id") != primary_id:
            continue
        verification = address.get("verification") or {}
        if isinstance(verification, dict) and verification.get("status") == "verified":
            value = address.get("email_address")
            email = value.strip().lower() if isinstance(value, str) and value.strip() else None
    return ClerkProfile(name=name, verified_email=email)


def clerk_user_profile(*, clerk_user_id: str) -> ClerkProfile:
    """``GET /v1/users/{id}``, read for its name and verified primary e-mail only.

    Plain httpx rather than the SDK's full User model: two fields are needed,
    and a strict parse of the whole object would turn a change in any other
    field into a failed sign-in.
    """
    try:
        response = httpx.get(
            _api_url(f"/users/{clerk_user_id}"), headers=_api_headers(), timeout=API_TIMEOUT_SECONDS
        )
        if response.status_code == 404:
            raise ClerkUserMissing(clerk_user_id)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ClerkUnavailable(f"user lookup failed ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise ClerkUnavailable("user lookup gave no object")
    return profile_from_user_object(data)
