"""Clerk webhooks at /webhooks/clerk/, signed with svix's own signing helper."""

import io
import json
import secrets
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from svix.webhooks import Webhook

from tests.clerk_fake import webhook_secret

SUB = "user_2hookABCdef"
SID = "sess_2hookABCdef"


def _deliver(client, settings, event: dict, *, msg_id: str | None = None, secret=None):
    body = json.dumps(event)
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    now = datetime.now(tz=UTC)
    signature = Webhook(secret or settings.CLERK_WEBHOOK_SECRET).sign(msg_id, now, body)
    return client.post(
        "/webhooks/clerk/",
        data=body,
        content_type="application/json",
        headers={
            "svix-id": msg_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": signature,
        },
    )


def _user_object(*, first="Ada", last="Byron", email="ada.byron@example.com", verified=True):
    return {
        "id": SUB,
        "object": "user",
        "first_name": first,
        "last_name": last,
        "primary_email_address_id": "idn_1",
        "email_addresses": [
            {
                "id": "idn_1",
                "email_address": email,
                "verification": {"status": "verified" if verified else "unverified"},
            }
        ],
    }


@pytest.fixture
def clerk_user(user_factory):
    return user_factory(name="Old Name", email=None, password=None, clerk_user_id=SUB)


def test_a_bad_signature_is_refused_and_changes_nothing(
    client, fake_clerk, settings, clerk_user, mongo
):
    response = _deliver(
        client, settings, {"type": "user.updated", "data": _user_object()}, secret=webhook_secret()
    )
    assert response.status_code == 400
    assert mongo.users.find_one({"_id": clerk_user.pk})["name"] == "Old Name"
    assert mongo.clerkEvents.count_documents({}) == 0


def test_without_a_signing_secret_the_endpoint_is_absent(client, fake_clerk, settings):
    settings.CLERK_WEBHOOK_SECRET = ""
    response = client.post("/webhooks/clerk/", data="{}", content_type="application/json")
    assert response.status_code == 404


def test_user_updated_syncs_name_and_verified_primary_email_once(
    client, fake_clerk, settings, clerk_user, mongo
):
    # When: the same message delivered twice (a retry keeps its svix-id)
    event = {"type": "user.updated", "data": _user_object()}
    first = _deliver(client, settings, event, msg_id="msg_same")
    second = _deliver(client, settings, event, msg_id="msg_same")

    # Then
    assert first.status_code == second.status_code == 200
    assert first.json() == {"received": True, "applied": True}
    assert second.json() == {"received": True, "duplicate": True}
    stored = mongo.users.find_one({"_id": clerk_user.pk})
    assert stored["name"] == "Ada Byron"
    assert stored["email"] == "ada.byron@example.com"
    assert mongo.clerkEvents.count_documents({"eventId": "msg_same"}) == 1


def test_an_unverified_address_is_not_taken(client, fake_clerk, settings, clerk_user, mongo):
    _deliver(client, settings, {"type": "user.created", "data": _user_object(verified=False)})
    stored = mongo.users.find_one({"_id": clerk_user.pk})
    assert stored["name"] == "Ada Byron"
    assert stored["email"] is None


def test_an_address_another_account_has_is_left_to_that_account(
    client, fake_clerk, settings, clerk_user, user_factory, mongo
):
    other = user_factory(name="Other", email="ada.byron@example.com")
    response = _deliver(client, settings, {"type": "user.updated", "data": _user_object()})
    assert response.status_code == 200
    assert mongo.users.find_one({"_id": clerk_user.pk})["email"] is None
    assert mongo.users.find_one({"_id": other.pk})["email"] == "ada.byron@example.com"


def test_user_created_for_someone_without_an_account_makes_none(
    client, fake_clerk, settings, mongo
):
    response = _deliver(client, settings, {"type": "user.created", "data": _user_object()})
    assert response.json() == {"received": True, "applied": False}
    assert mongo.users.count_documents({}) == 0


def test_user_deleted_erases_the_account_as_gdpr_erase_does(
    client, fake_clerk, settings, clerk_user, mongo
):
    # When
    response = _deliver(
        client, settings, {"type": "user.deleted", "data": {"id": SUB, "deleted": True}}
    )

    # Then: pseudonymised and disabled, the admin log says so, Clerk not called back
    assert response.json() == {"received": True, "applied": True}
    stored = mongo.users.find_one({"_id": clerk_user.pk})
    assert stored["name"] == "Deleted user"
    assert stored["email"] is None
    assert stored["isActive"] is False
    assert stored["clerkUserId"].startswith("erased_")
    assert mongo.django_admin_log.count_documents({"object_id": str(clerk_user.pk)}) == 1
    assert fake_clerk.calls == []
    # and gdpr_erase finds it already erased
    out = io.StringIO()
    call_command("gdpr_erase", user_id=str(clerk_user.pk), stdout=out)
    assert out.getvalue() == f"user {clerk_user.pk} already erased; nothing to do\n"


def test_session_revoked_ends_the_django_session_made_from_it(
    client, fake_clerk, settings, clerk_user, mongo
):
    # Given: signed in through Clerk
    fake_clerk.add_session(SID, user_id=SUB)
    browser = type(client)()
    token = fake_clerk.token(sub=SUB, sid=SID)
    browser.cookies["__session"] = token
    assert browser.get("/").wsgi_request.user.is_authenticated
    del browser.cookies["__session"]

    # When
    response = _deliver(
        client, settings, {"type": "session.revoked", "data": {"id": SID, "user_id": SUB}}
    )

    # Then: the next request is anonymous, and the token cannot sign in again
    assert response.json() == {"received": True, "applied": True}
    assert not browser.get("/").wsgi_request.user.is_authenticated
    replay = type(client)()
    replay.cookies["__session"] = token
    assert not replay.get("/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize("kind", ["session.ended", "session.removed"])
def test_other_session_endings_end_it_too(client, fake_clerk, settings, clerk_user, kind):
    fake_clerk.add_session(SID, user_id=SUB)
    browser = type(client)()
    browser.cookies["__session"] = fake_clerk.token(sub=SUB, sid=SID)
    browser.get("/")
    del browser.cookies["__session"]

    _deliver(client, settings, {"type": kind, "data": {"id": SID, "user_id": SUB}})

    assert not browser.get("/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize(
    "event",
    [
        {"type": "organization.created", "data": {"id": "org_1"}},
        {"type": "user.updated", "data": "not an object"},
        {"type": "user.deleted", "data": {"id": "local_123"}},
        {"type": "session.revoked", "data": {"id": None}},
        {"data": {}},
        ["not", "an", "object"],
    ],
    ids=["unknown-type", "odd-data", "local-id", "no-session-id", "no-type", "a-list"],
)
def test_odd_or_unknown_events_are_acknowledged_without_an_error(
    client, fake_clerk, settings, clerk_user, mongo, event
):
    response = _deliver(client, settings, event)
    assert response.status_code == 200
    assert response.json()["received"] is True
    assert mongo.users.find_one({"_id": clerk_user.pk})["isActive"] is True


def test_a_session_revoked_before_it_reached_the_shop_cannot_sign_in_later(
    client, fake_clerk, settings, clerk_user
):
    # Given: Clerk revokes a session the shop never saw
    _deliver(client, settings, {"type": "session.revoked", "data": {"id": SID, "user_id": SUB}})

    # When: a token of it arrives within its minute
    browser = type(client)()
    browser.cookies["__session"] = fake_clerk.token(sub=SUB, sid=SID)

    # Then
    assert not browser.get("/").wsgi_request.user.is_authenticated
