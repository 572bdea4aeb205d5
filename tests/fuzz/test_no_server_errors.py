"""Hostile input never gets a server error, and rejected input changes nothing.

Hypothesis generates values (huge and empty strings, unicode, NUL and other
control characters, negative and huge numbers, wrong types, missing fields)
for every form field and GET parameter of the public and account pages, and
for the ids in every URL route. Each request must answer below 500; a POST
that is not accepted (anything but a redirect) must leave the shop's
collections as they were.

FUZZ_EXAMPLES (environment) sets the examples per target: a few by default,
so the suite stays fast; raise it for a longer run.
"""

import os
import time

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_site.intents import new_intent_token
from tests.shopping import give_credits

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SHOP_COLLECTIONS = ("users", "purchases", "referrals", "creditTransactions", "products")
STATS = {"requests": 0, "seconds": 0.0}

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\r\nBcc: x@example.com",
            "\t",
            "\u202e",
            "💳" * 50,
            "x" * 5000,
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            '{"$gt": ""}',
            "../../etc/passwd",
            "-1",
            "0",
            "1.5",
            "1e309",
            "NaN",
            str(2**63),
            str(-(2**63) - 1),
            "99999999999999999999999999",
            "6b0d3e8f38dcd7f1348853b4",
            "javascript:alert(1)",
            "//evil.example.com",
            "foo",
            "/\\evil.example.com",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
# A field given once, given twice, or left out.
field_value = st.one_of(hostile_text, st.lists(hostile_text, min_size=2, max_size=3), st.none())

ROUTE_IDS = st.one_of(
    hostile_text.filter(lambda s: "/" not in s and "\x00" not in s and s.strip()),
    st.just("6b0d3e8f38dcd7f1348853b4"),
)


def _form(fields: dict) -> dict:
    return {name: value for name, value in fields.items() if value is not None}


def _snapshot():
    database = connection.database
    return {name: database[name].count_documents({}) for name in SHOP_COLLECTIONS}


def _request(client, method, url, data=None):
    started = time.perf_counter()
    if method == "get":
        response = client.get(url, data or {})
    else:
        response = client.post(url, data or {})
    STATS["requests"] += 1
    STATS["seconds"] += time.perf_counter() - started
    assert response.status_code < 500, (method, url, data, response.status_code)
    return response


@pytest.fixture
def shopper(client, settings, user, product_factory):
    settings.AUTH_RATE_LIMIT = 0  # every example reaches the code it is meant for
    give_credits(user, 3)
    client.force_login(user)
    return {"client": client, "product": product_factory(), "user": user}


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

GET_PAGES = {
    "/": [],
    "/products/": ["q", "category", "min_price", "max_price", "sort", "page"],
    "/accounts/login/": ["next"],
    "/accounts/signup/": ["next"],
    "/dashboard/": ["part", "sort", "rpage", "spage", "seen"],
    "/purchases/": ["page"],
    "/accounts/settings/": [],
}


@pytest.mark.parametrize("path", list(GET_PAGES))
@FUZZ
@given(data=st.data())
def test_get_parameters(shopper, path, data):
    params = _form({name: data.draw(field_value, label=name) for name in GET_PAGES[path]})
    _request(shopper["client"], "get", path, params)
    _request(shopper["client"], "get", path, {**params, "HX-Request": "true"})


@pytest.mark.parametrize(
    "route", ["/products/{}/", "/checkout/{}/", "/purchases/{}/", "/r/{}/", "/dashboard/qr.{}"]
)
@FUZZ
@given(ident=ROUTE_IDS)
def test_ids_in_routes(shopper, route, ident):
    _request(shopper["client"], "get", route.format(ident))


def _valid_forms(shopper, n: int) -> dict[str, dict]:
    """Each form filled in as a customer would: the fuzz spoils some fields of these."""
    return {
        "/accounts/signup/": {
            "name": "Fuzz Tester",
            "email": f"fuzz{n}@example.com",
            "password": "a-long-test-password-77",
            "referral_code": "",
            "next": "/dashboard/",
        },
        "/accounts/login/": {
            "username": shopper["user"].email,
            "password": "correct-horse-battery",
            "next": "/dashboard/",
        },
        "/accounts/password_reset/": {"email": shopper["user"].email},
        "/accounts/password_change/": {
            "old_password": "correct-horse-battery",
            "new_password1": "another-long-pass-88",
            "new_password2": "another-long-pass-88",
        },
        "/accounts/settings/delete/": {"password": "wrong-password"},
        "/checkout/{product}/": {
            "token": new_intent_token(),
            "credits": "0",
            "payment_method_id": "pm_card_visa",
            "action": "preview",
        },
        "/webhooks/stripe/": {"id": "evt_1", "type": "payment_intent.succeeded"},
    }


POST_PATHS = [
    "/accounts/signup/",
    "/accounts/login/",
    "/accounts/password_reset/",
    "/accounts/password_change/",
    "/accounts/settings/delete/",
    "/checkout/{product}/",
    "/webhooks/stripe/",
]
COUNTER = {"n": 0}


@pytest.mark.parametrize("path", POST_PATHS)
@FUZZ
@given(data=st.data())
def test_posted_forms(shopper, path, data):
    COUNTER["n"] += 1
    fields = dict(_valid_forms(shopper, COUNTER["n"])[path])
    spoiled = data.draw(st.sets(st.sampled_from(sorted(fields)), min_size=1), label="spoiled")
    for name in spoiled:
        fields[name] = data.draw(field_value, label=name)
    url = path.format(product=shopper["product"].pk)
    before = _snapshot()

    response = _request(shopper["client"], "post", url, _form(fields))

    if response.status_code != 302:
        assert _snapshot() == before, (url, fields)
    # A sign-in, sign-up or password change may have changed the session: back to the shopper.
    shopper["client"].force_login(shopper["user"])
