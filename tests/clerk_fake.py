"""A stand-in Clerk instance for the tests: a local HTTP server answering the few
Backend API endpoints the shop calls, with keys generated here.

- ``GET /v1/jwks``: the public halves of ``keys`` (rotate with ``rotate()``)
- ``GET /v1/sessions/{id}``, ``POST /v1/sessions/{id}/revoke``
- ``GET /v1/users/{id}``, ``DELETE /v1/users/{id}``

Every call needs ``Authorization: Bearer <SECRET_KEY>`` and is logged in
``calls`` as ``"METHOD /path"``. ``down = True`` answers 503 to everything.
Tokens come from ``token()``, signed with the current key and its kid, as
Clerk signs session tokens (RS256, iss = the Frontend API, sid, azp).
"""

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

FRONTEND_API_HOST = "clerk.shop.example.com"
ISSUER = f"https://{FRONTEND_API_HOST}"
PUBLISHABLE_KEY = "pk_test_" + base64.b64encode(f"{FRONTEND_API_HOST}$".encode()).decode()
SECRET_KEY = "sk_test_fake_instance_key"  # noqa: S105 - the stand-in's, not a secret
ORIGIN = "https://shop.example.com"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class FakeClerk:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        self.keys = [(f"ins_{secrets.token_hex(6)}", rsa_key())]
        self.sessions: dict[str, dict] = {}
        self.users: dict[str, dict] = {}
        self.calls: list[str] = []
        self.down = False

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- the instance's state ---------------------------------------------------

    @property
    def kid(self) -> str:
        return self.keys[-1][0]

    def rotate(self, *, keep_old: bool = False) -> str:
        """A new signing key; the JWKS serves it (and the old one with keep_old)."""
        new = (f"ins_{secrets.token_hex(6)}", rsa_key())
        self.keys = [*self.keys, new] if keep_old else [new]
        return new[0]

    def add_user(
        self, user_id, *, first_name="Ada", last_name="Lovelace", email=None, verified=True
    ):
        address_id = f"idn_{secrets.token_hex(6)}"
        addresses = []
        if email:
            addresses.append(
                {
                    "id": address_id,
                    "object": "email_address",
                    "email_address": email,
                    "reserved": False,
                    "linked_to": [],
                    "created_at": 0,
                    "updated_at": 0,
                    "verification": {
                        "object": "verification_otp",
                        "status": "verified" if verified else "unverified",
                        "strategy": "email_code",
                        "attempts": 1,
                        "expire_at": 0,
                    },
                }
            )
        user = {
            "id": user_id,
            "object": "user",
            "first_name": first_name,
            "last_name": last_name,
            "primary_email_address_id": address_id if email else None,
            "email_addresses": addresses,
        }
        self.users[user_id] = user
        return user

    def add_session(self, session_id, *, user_id, status="active"):
        self.sessions[session_id] = {"user_id": user_id, "status": status}

    def token(self, *, sub="user_2abcDEFghiJKLmnoPQRstu", sid="sess_2abc", lifetime=60, **claims):
        """A session token as Clerk mints it; keyword overrides change or drop (None) claims."""
        kid, key = self.keys[-1]
        kid = claims.pop("kid", kid)
        key = claims.pop("key", key)
        now = int(time.time())
        payload = {
            "sub": sub,
            "sid": sid,
            "azp": ORIGIN,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})

    def count(self, call: str) -> int:
        return sum(1 for made in self.calls if made == call)

    # --- answers ----------------------------------------------------------------

    def answer(self, method: str, path: str, authorization: str) -> tuple[int, dict]:
        with self._lock:
            self.calls.append(f"{method} {path}")
        if self.down:
            return 503, {"errors": [{"message": "unavailable", "code": "unavailable"}]}
        if authorization != f"Bearer {SECRET_KEY}":
            return 401, {"errors": [{"message": "unauthorized", "code": "unauthorized"}]}
        parts = path.strip("/").split("/")
        if parts == ["v1", "jwks"] and method == "GET":
            keys = []
            for kid, key in self.keys:
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
                keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
            return 200, {"keys": keys}
        if parts[:2] == ["v1", "sessions"] and len(parts) >= 3:
            session = self.sessions.get(parts[2])
            if session is None:
                return 404, {"errors": [{"message": "not found", "code": "resource_not_found"}]}
            if len(parts) == 4 and parts[3] == "revoke" and method == "POST":
                session["status"] = "revoked"
            elif len(parts) != 3 or method != "GET":
                return 405, {"errors": [{"message": "no", "code": "method"}]}
            return 200, _session_object(parts[2], session)
        if parts[:2] == ["v1", "users"] and len(parts) == 3:
            user = self.users.get(parts[2])
            if user is None:
                return 404, {"errors": [{"message": "not found", "code": "resource_not_found"}]}
            if method == "DELETE":
                del self.users[parts[2]]
                return 200, {"object": "user", "id": parts[2], "deleted": True}
            return 200, user
        return 404, {"errors": [{"message": "not found", "code": "resource_not_found"}]}


def _session_object(session_id: str, session: dict) -> dict:
    now = int(time.time() * 1000)
    return {
        "object": "session",
        "id": session_id,
        "user_id": session["user_id"],
        "client_id": "client_fake",
        "status": session["status"],
        "last_active_at": now,
        "expire_at": now + 3_600_000,
        "abandon_at": now + 86_400_000,
        "updated_at": now,
        "created_at": now,
    }


def _handler(fake: FakeClerk):
    class Handler(BaseHTTPRequestHandler):
        def _reply(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body = fake.answer(
                self.command, self.path.split("?")[0], self.headers.get("Authorization", "")
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _reply

        def log_message(self, *args):  # quiet
            pass

    return Handler
