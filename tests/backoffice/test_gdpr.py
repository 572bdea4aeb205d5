"""GDPR: data export and erasure, from the commands and from account settings."""

import json
import os
import re
import stat
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import authenticate
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_get_by_referral_code
from backoffice.gdpr import ERASURE_MESSAGE, user_erase
from credits.services import credits_grant
from purchases.models import PurchaseStatus
from purchases.services import purchase_checkout
from referrals.services import referral_create

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def history(user_factory, product_factory, referrer):
    """Ada: referred by Grace, refers Bob, has an adjustment and a first purchase.

    The purchase uses 2 credits on 32.99 (20.00 credits + 12.99 cash) and
    converts Ada's referral, so both Ada and Grace get referral rewards.
    """
    ada = user_factory(name="Ada Lovelace", email="ada@example.com", referred_by=referrer)
    referral_create(referrer=referrer, referred_user=ada)
    bob = user_factory(name="Bob Babbage", email="bob@example.com", referred_by=ada)
    referral_create(referrer=ada, referred_user=bob)
    credits_grant(
        user_id=ada.pk,
        amount=3,
        kind="adjustment",
        idempotency_key=f"test:{uuid.uuid4().hex}",
        reason="welcome bonus",
    )
    product = product_factory(title="Clean Code", price=Decimal("32.99"))
    purchase = purchase_checkout(
        user=User.objects.get(pk=ada.pk),
        product=product,
        credits_used=2,
        token=uuid.uuid4().hex,
        payment_method_id="pm_card_visa",
    )
    assert purchase.status == PurchaseStatus.COMPLETED
    return {"ada": User.objects.get(pk=ada.pk), "bob": bob, "grace": referrer, "purchase": purchase}


def books(mongo, ada, grace) -> dict:
    """What erasure must leave as it is: everything money and referrals depend on."""

    def docs(collection, query, fields):
        return sorted(
            tuple(str(doc.get(f)) for f in fields) for doc in mongo[collection].find(query)
        )

    ada_doc = mongo.users.find_one({"_id": ada.pk})
    grace_doc = mongo.users.find_one({"_id": grace.pk})
    return {
        "purchases": docs(
            "purchases",
            {"userId": ada.pk},
            [
                "_id",
                "amount",
                "creditsUsed",
                "creditAmount",
                "cashAmount",
                "status",
                "isFirstPurchase",
                "referralCreditAwarded",
            ],
        ),
        "referrals": docs(
            "referrals",
            {"$or": [{"referrerId": ada.pk}, {"referredUserId": ada.pk}]},
            ["_id", "referrerId", "referredUserId", "status", "creditsAwarded"],
        ),
        "ledger": docs(
            "creditTransactions", {"userId": ada.pk}, ["_id", "amount", "kind", "balanceAfter"]
        ),
        "ada": (
            ada_doc["credits"],
            ada_doc["totalCreditsEarned"],
            ada_doc["totalReferredUsers"],
            ada_doc["referralCode"],
            ada_doc["referredBy"],
        ),
        "grace": (
            grace_doc["credits"],
            grace_doc["totalCreditsEarned"],
            grace_doc["totalReferredUsers"],
        ),
    }


def export_via_command(**options) -> tuple[dict, str]:
    out = StringIO()
    call_command("gdpr_export", stdout=out, **options)
    return json.loads(out.getvalue()), out.getvalue()


def erase_via_command(**options) -> str:
    out = StringIO()
    call_command("gdpr_erase", stdout=out, **options)
    return out.getvalue()


# --- Export ------------------------------------------------------------------------


def test_export_holds_the_users_data_and_no_password_hash(history, mongo):
    # Given
    ada, bob, grace = history["ada"], history["bob"], history["grace"]
    stored_hash = mongo.users.find_one({"_id": ada.pk})["password"]

    # When: the address in another letter case
    data, text = export_via_command(email="ADA@Example.com")

    # Then: the account, whole, without the hash
    assert stored_hash not in text
    user = data["user"]
    assert user["password"] == "(hash withheld)"
    assert user["_id"] == str(ada.pk)
    assert (user["name"], user["email"]) == ("Ada Lovelace", "ada@example.com")
    assert user["referralCode"] == ada.referral_code
    assert user["referredBy"] == str(grace.pk)
    assert user["credits"] == ada.credits == 3
    assert ISO_UTC.match(user["createdAt"])
    # referrals both ways, by id
    assert [r["referredUserId"] for r in data["referralsMade"]] == [str(bob.pk)]
    [received] = data["referralsReceived"]
    assert (received["referrerId"], received["status"]) == (str(grace.pk), "converted")
    assert ISO_UTC.match(received["convertedAt"])
    # purchases with money as decimal strings
    [purchase] = data["purchases"]
    assert purchase["_id"] == str(history["purchase"].pk)
    assert purchase["productName"] == "Clean Code"
    assert (purchase["amount"], purchase["creditAmount"], purchase["cashAmount"]) == (
        "32.99",
        "20.00",
        "12.99",
    )
    # the ledger, which adds up to the balance
    kinds = sorted(entry["kind"] for entry in data["creditTransactions"])
    assert kinds == ["adjustment", "referral_reward_referred", "spend"]
    assert sum(entry["amount"] for entry in data["creditTransactions"]) == ada.credits


def test_export_of_another_user_holds_nothing_of_ada(history):
    # When
    data, text = export_via_command(email="bob@example.com")

    # Then: Bob sees who referred him (an id), never Ada's name or address
    assert data["referralsReceived"][0]["referrerId"] == str(history["ada"].pk)
    assert "Ada" not in text
    assert "ada@example.com" not in text
    assert data["purchases"] == []


def test_export_to_a_file_is_complete_private_and_leaves_no_temporary(history, tmp_path):
    # Given
    target = tmp_path / "ada.json"
    target.write_text("old content")

    # When
    out = StringIO()
    call_command("gdpr_export", email="ada@example.com", output=str(target), stdout=out)

    # Then
    data = json.loads(target.read_text())
    assert data["user"]["email"] == "ada@example.com"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["ada.json"]
    assert out.getvalue() == f"exported user {history['ada'].pk} to {target}\n"


def test_export_into_a_missing_directory_is_a_one_line_error(history, tmp_path):
    with pytest.raises(CommandError, match=r"^directory .* does not exist$"):
        call_command(
            "gdpr_export", email="ada@example.com", output=str(tmp_path / "missing" / "ada.json")
        )


@pytest.mark.parametrize("command", ["gdpr_export", "gdpr_erase"])
def test_unknown_email_is_a_one_line_error(db, command):
    with pytest.raises(CommandError) as error:
        call_command(command, email="nobody@example.com")
    assert str(error.value) == "no user with that e-mail address"


@pytest.mark.parametrize("command", ["gdpr_export", "gdpr_erase"])
@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "one of the arguments --email --id is required"),
        (["--id", "not-an-id"], "'not-an-id' is not a user id (24 hexadecimal digits)"),
        (["--id", "0123456789abcdef01234567"], "no user with that id"),
        (["--email", "a@example.com", "--id", "0123456789abcdef01234567"], "not allowed with"),
    ],
)
def test_bad_arguments_are_refused(db, command, arguments, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(command, *arguments)


def test_erase_of_unknown_email_exits_1_with_one_line_on_stderr(db):
    # Given: manage.py in its own process, on this test run's database
    uri = os.environ.get("TEST_MONGODB_URI") or os.environ["MONGODB_URI"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "referral_site.settings.test",
        "MONGODB_URI": uri,
        "MONGODB_NAME": connection.settings_dict["NAME"],
    }

    # When
    result = subprocess.run(
        [sys.executable, "manage.py", "gdpr_erase", "--email", "nobody@example.com"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Then
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["CommandError: no user with that e-mail address"]
    assert result.stdout == ""


# --- Erasure -----------------------------------------------------------------------


def test_erase_pseudonymises_and_disables_the_account_but_keeps_the_books(history, mongo):
    # Given
    ada, grace = history["ada"], history["grace"]
    before = books(mongo, ada, grace)
    old_clerk_id = mongo.users.find_one({"_id": ada.pk})["clerkUserId"]
    seen = {"lastIpHash": "a" * 64, "lastBrowserHash": "b" * 64, "lastSeenAt": timezone.now()}
    mongo.users.update_one({"_id": ada.pk}, {"$set": seen})

    # When
    output = erase_via_command(email="Ada@Example.com")

    # Then: personal data gone, account disabled
    stored = mongo.users.find_one({"_id": ada.pk})
    assert stored["name"] == "Deleted user"
    assert stored["email"] is None
    assert stored["isActive"] is False
    assert (stored["isStaff"], stored["isSuperuser"], stored["lastLogin"]) == (False, False, None)
    assert (stored["lastIpHash"], stored["lastBrowserHash"], stored["lastSeenAt"]) == ("", "", None)
    assert stored["clerkUserId"].startswith("erased_")
    assert stored["clerkUserId"] != old_clerk_id
    assert stored["password"].startswith("!")  # Django's unusable password
    # every purchase, referral, ledger entry, balance and counter as it was
    assert books(mongo, ada, grace) == before
    assert before["grace"][2] == 1  # Grace still counts Ada
    assert output == f"erased personal data of user {ada.pk}; account disabled\n"
    assert "ada" not in output.lower()


def test_erase_writes_an_admin_log_entry_without_personal_data(history, staff_user, mongo):
    # Given: an earlier staff edit, which Django's admin logs as "name <email>"
    ada = history["ada"]
    LogEntry.objects.log_actions(
        user_id=staff_user.pk,
        queryset=[ada],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Name"]}}],
    )

    # When
    erase_via_command(email="ada@example.com")

    # Then: one erasure entry, recorded as done on Ada's own request (LogEntry
    # needs a user), and no name or address left in the log
    user_type = ContentType.objects.get_for_model(User)
    entries = list(
        LogEntry.objects.filter(content_type_id=user_type.pk, object_id=str(ada.pk)).order_by(
            "action_time"
        )
    )
    assert [e.change_message for e in entries][-1] == ERASURE_MESSAGE
    erasure = entries[-1]
    assert (erasure.user_id, erasure.action_flag, erasure.object_repr) == (
        ada.pk,
        CHANGE,
        str(ada.pk),
    )
    for document in mongo.django_admin_log.find({"object_id": str(ada.pk)}):
        text = json.dumps(document, default=str)
        assert "Lovelace" not in text
        assert "ada@example.com" not in text


def test_erased_user_cannot_log_in_and_their_open_session_ends(history, client):
    # Given: Ada is signed in
    ada = history["ada"]
    assert client.login(username="ada@example.com", password=PASSWORD)
    assert client.get("/accounts/settings/").status_code == 200

    # When
    erase_via_command(email="ada@example.com")

    # Then
    response = client.get("/accounts/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not client.login(username="ada@example.com", password=PASSWORD)
    assert authenticate(username="ada@example.com", password=PASSWORD) is None
    assert User.objects.get(pk=ada.pk).check_password(PASSWORD) is False


def test_erased_users_referral_code_stops_working(history, client):
    # Given
    code = history["ada"].referral_code
    assert user_get_by_referral_code(code=code) is not None

    # When
    erase_via_command(email="ada@example.com")

    # Then
    assert user_get_by_referral_code(code=code) is None
    response = client.get(f"/r/{code}/")
    assert response.status_code == 404
    assert "This invitation link doesn't work" in response.content.decode()


def test_erasing_again_is_a_no_op_that_says_already_erased(history, mongo):
    # Given
    ada = history["ada"]
    stale = User.objects.get(pk=ada.pk)  # read before the first erasure
    erase_via_command(email="ada@example.com")
    after_first = mongo.users.find_one({"_id": ada.pk})

    # When: by id (the address is gone), and with the object read before
    output = erase_via_command(user_id=str(ada.pk))
    result = user_erase(user=stale)

    # Then
    assert output == f"user {ada.pk} already erased; nothing to do\n"
    assert result.already_erased
    assert mongo.users.find_one({"_id": ada.pk}) == after_first
    assert (
        LogEntry.objects.filter(object_id=str(ada.pk), change_message=ERASURE_MESSAGE).count() == 1
    )
    # and the address no longer finds anybody
    with pytest.raises(CommandError, match="no user with that e-mail address"):
        call_command("gdpr_erase", email="ada@example.com")


def test_a_rerun_repairs_an_erasure_that_stopped_before_its_log_entry(history, mongo, monkeypatch):
    # Given: the process dies right after the update
    from backoffice import gdpr

    ada = history["ada"]

    def crash(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gdpr, "_log_erasure", crash)
    with pytest.raises(KeyboardInterrupt):
        user_erase(user=ada)
    monkeypatch.undo()
    logged = LogEntry.objects.filter(object_id=str(ada.pk), change_message=ERASURE_MESSAGE)
    assert logged.count() == 0

    # When: a rerun right away (it could be a concurrent run about to log), then later
    erase_via_command(user_id=str(ada.pk))
    count_right_away = logged.count()
    mongo.users.update_one(
        {"_id": ada.pk}, {"$set": {"updatedAt": timezone.now() - timedelta(minutes=6)}}
    )
    output = erase_via_command(user_id=str(ada.pk))

    # Then
    assert count_right_away == 0
    assert logged.count() == 1
    assert output == f"user {ada.pk} already erased; nothing to do\n"


@pytest.mark.django_db(transaction=True)
def test_concurrent_erasures_erase_once_and_log_once(user_factory, mongo):
    # Given: eight requests holding the same, not yet erased, copy of the user
    ada = user_factory(name="Ada Lovelace", email="ada@example.com")
    barrier = threading.Barrier(8)
    results = [None] * 8

    def erase(i):
        try:
            barrier.wait()
            results[i] = user_erase(user=User.objects.get(pk=ada.pk) if i % 2 else ada)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc
        finally:
            connections.close_all()

    # When
    threads = [threading.Thread(target=erase, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then: exactly one did it, the others saw it done
    assert [type(r).__name__ for r in results] == ["Erasure"] * 8
    assert sorted(r.already_erased for r in results) == [False] + [True] * 7
    assert mongo.users.find_one({"_id": ada.pk})["name"] == "Deleted user"
    assert (
        LogEntry.objects.filter(object_id=str(ada.pk), change_message=ERASURE_MESSAGE).count() == 1
    )


def test_erase_does_not_write_back_a_balance_read_before_it(history, mongo):
    # Given: a stale copy of Ada, then a reward lands
    ada = history["ada"]
    stale = User.objects.get(pk=ada.pk)
    credits_grant(
        user_id=ada.pk,
        amount=5,
        kind="adjustment",
        idempotency_key=f"test:{uuid.uuid4().hex}",
        reason="late reward",
    )

    # When
    user_erase(user=stale)

    # Then
    assert mongo.users.find_one({"_id": ada.pk})["credits"] == stale.credits + 5


def test_several_erased_accounts_can_all_have_no_email(history, mongo):
    # When
    erase_via_command(email="ada@example.com")
    erase_via_command(email="bob@example.com")

    # Then
    erased = list(mongo.users.find({"name": "Deleted user"}))
    assert len(erased) == 2
    assert {doc["email"] for doc in erased} == {None}
    assert len({doc["clerkUserId"] for doc in erased}) == 2


def test_export_by_id_after_erasure_keeps_the_records_without_personal_data(history):
    # Given
    ada = history["ada"]
    erase_via_command(email="ada@example.com")

    # When
    data, text = export_via_command(user_id=str(ada.pk))

    # Then
    assert data["user"]["name"] == "Deleted user"
    assert data["user"]["email"] is None
    assert "Lovelace" not in text
    assert len(data["purchases"]) == 1
    assert data["adminLog"][-1]["changeMessage"] == ERASURE_MESSAGE
    assert data["adminLog"][-1]["actorId"] == str(ada.pk)


def test_erase_records_the_staff_member_given_as_actor(history, client, staff_user):
    # Given
    ada = history["ada"]

    # When
    erase_via_command(email="ada@example.com", actor="STAFF@example.com")

    # Then: in the log, and on Django's own history page for the user
    erasure = LogEntry.objects.get(object_id=str(ada.pk), change_message=ERASURE_MESSAGE)
    assert erasure.user_id == staff_user.pk
    client.force_login(staff_user)
    response = client.get(f"/admin/accounts/user/{ada.pk}/history/")
    assert response.status_code == 200
    assert ERASURE_MESSAGE in response.content.decode()


def test_erase_refuses_an_actor_who_is_not_staff(history, mongo):
    with pytest.raises(CommandError, match="^--actor: no staff user with that e-mail address$"):
        call_command("gdpr_erase", email="ada@example.com", actor="bob@example.com")
    assert mongo.users.find_one({"_id": history["ada"].pk})["isActive"] is True


# --- Account settings ------------------------------------------------------------------


@pytest.fixture
def ada_client(history, client):
    assert client.login(username="ada@example.com", password=PASSWORD)
    return client


def test_settings_page_needs_a_signed_in_user(db, client):
    response = client.get("/accounts/settings/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/settings/"


def test_settings_page_offers_download_and_a_labelled_delete_form(ada_client):
    # When
    response = ada_client.get("/accounts/settings/")

    # Then
    content = response.content.decode()
    assert response.status_code == 200
    assert '<a href="/accounts/settings/">Account</a>' in content  # the nav link
    assert 'href="/accounts/settings/export/"' in content
    assert "Download my data" in content
    assert 'action="/accounts/settings/delete/"' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert re.search(r'<label for="id_password">Your password', content)
    assert 'autocomplete="current-password"' in content


def test_download_my_data_is_the_commands_export_as_an_attachment(ada_client, mongo, history):
    # When
    response = ada_client.get("/accounts/settings/export/")

    # Then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    data = json.loads(response.content)
    assert mongo.users.find_one({"_id": history["ada"].pk})["password"] not in (
        response.content.decode()
    )
    from_command, _ = export_via_command(email="ada@example.com")
    for document in (data, from_command):
        document.pop("exportedAt")
        # signing in through the page set lastLogin after the page's export was made
        document["user"].pop("lastLogin")
        document["user"].pop("updatedAt")
    assert data == from_command


def test_delete_with_a_wrong_password_changes_nothing(ada_client, history, mongo):
    # Given
    before = mongo.users.find_one({"_id": history["ada"].pk})

    # When
    response = ada_client.post("/accounts/settings/delete/", {"password": "not-my-password"})

    # Then
    assert response.status_code == 200
    assert response.context["delete_form"].errors["password"] == [
        "The password is not right. Nothing was changed."
    ]
    assert mongo.users.find_one({"_id": history["ada"].pk}) == before
    assert ada_client.get("/accounts/settings/").status_code == 200  # still signed in


def test_delete_with_the_right_password_erases_logs_out_and_goes_home(ada_client, history, mongo):
    # Given
    ada, grace = history["ada"], history["grace"]
    before = books(mongo, ada, grace)

    # When
    response = ada_client.post("/accounts/settings/delete/", {"password": PASSWORD}, follow=True)

    # Then
    assert response.redirect_chain == [("/", 302)]
    assert "Your account has been deleted" in response.content.decode()
    assert not response.context["user"].is_authenticated
    stored = mongo.users.find_one({"_id": ada.pk})
    assert (stored["name"], stored["email"], stored["isActive"]) == ("Deleted user", None, False)
    assert books(mongo, ada, grace) == before
    erasure = LogEntry.objects.get(object_id=str(ada.pk), change_message=ERASURE_MESSAGE)
    assert erasure.user_id == ada.pk  # the user acted on their own account
    assert not ada_client.login(username="ada@example.com", password=PASSWORD)


def test_delete_needs_the_csrf_token(history, mongo):
    # Given
    client = Client(enforce_csrf_checks=True)
    client.force_login(history["ada"])

    # When
    response = client.post("/accounts/settings/delete/", {"password": PASSWORD})

    # Then
    assert response.status_code == 403
    assert mongo.users.find_one({"_id": history["ada"].pk})["isActive"] is True


def test_delete_is_post_only(ada_client):
    assert ada_client.get("/accounts/settings/delete/").status_code == 405


def test_account_without_a_password_confirms_by_typing_delete(db, client, mongo):
    # Given: a Clerk user (no usable password)
    from accounts.services import user_create

    clerk_user = user_create(
        email=None, password=None, name="Clerk Person", clerk_user_id="user_2clerk"
    )
    client.force_login(clerk_user)
    page = client.get("/accounts/settings/").content.decode()
    assert 'name="password"' not in page
    assert "Type DELETE to confirm" in page

    client.cookies["__session"] = "a-clerk-session-token"

    # When: a wrong word, then the right one
    wrong = client.post("/accounts/settings/delete/", {"confirm": "yes"})
    right = client.post("/accounts/settings/delete/", {"confirm": "delete"})

    # Then
    assert wrong.status_code == 200
    assert "confirm" in wrong.context["delete_form"].errors
    assert right.status_code == 302
    assert right.cookies["__session"].value == ""  # the Clerk token is dropped too
    assert right.cookies["__session"]["max-age"] == 0
    stored = mongo.users.find_one({"_id": clerk_user.pk})
    assert stored["isActive"] is False
    assert stored["clerkUserId"].startswith("erased_")
