"""archive_purchases: old purchases move to purchasesArchive exactly once, and stay readable."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pymongo.errors import DuplicateKeyError

from backoffice.gdpr import user_data_export
from purchases import archive
from purchases.selectors import (
    product_sales_report,
    purchase_for_product,
    purchase_library_for_user,
)
from referrals.models import Referral, ReferralStatus

OLD = datetime(2024, 1, 12, 14, 20, tzinfo=UTC)
CUTOFF = "2025-01-01"


@pytest.fixture
def history(mongo, user_factory, product_factory, make_purchase):
    """Ada's purchases: three old final ones, one old in flight, one new."""
    ada = user_factory(name="Ada Lovelace", email="ada@example.com")
    books = [product_factory(title=f"Book {i}", price=Decimal("10.00")) for i in range(4)]
    old = [
        make_purchase(user=ada, product=books[0], amount="10.00"),
        make_purchase(user=ada, product=books[1], amount="12.50", status="refunded"),
        make_purchase(user=ada, product=books[2], amount="7.00", status="failed"),
    ]
    in_flight = make_purchase(user=ada, product=books[3], amount="9.00", status="paid")
    new = make_purchase(user=ada, product=books[3], amount="9.00")
    for i, purchase in enumerate([*old, in_flight]):
        mongo["purchases"].update_one(
            {"_id": purchase.pk}, {"$set": {"createdAt": OLD + timedelta(hours=i)}}
        )
    originals = {
        doc["_id"]: doc for doc in mongo["purchases"].find({"_id": {"$in": [p.pk for p in old]}})
    }
    return {
        "ada": ada,
        "books": books,
        "old": old,
        "in_flight": in_flight,
        "new": new,
        "originals": originals,
    }


def _ids(mongo, name) -> list:
    return sorted(doc["_id"] for doc in mongo[name].find({}, {"_id": 1}))


def test_a_dry_run_counts_and_moves_nothing(history, mongo, capsys):
    before = _ids(mongo, "purchases")

    call_command("archive_purchases", "--before", CUTOFF, "--dry-run")

    assert "3 purchases before 2025-01-01T00:00:00Z would move" in capsys.readouterr().out
    assert _ids(mongo, "purchases") == before
    assert _ids(mongo, "purchasesArchive") == []


def test_old_final_purchases_move_unchanged_and_the_rest_stay(history, mongo, capsys):
    call_command("archive_purchases", "--before", CUTOFF, "--batch-size", "2")

    assert "3 purchases before" in capsys.readouterr().out
    archived = {doc["_id"]: doc for doc in mongo["purchasesArchive"].find()}
    assert archived == history["originals"]  # every field, exactly as stored
    assert _ids(mongo, "purchases") == sorted([history["in_flight"].pk, history["new"].pk])

    # and again: nothing left to move, nothing duplicated
    call_command("archive_purchases", "--before", CUTOFF)
    assert len(_ids(mongo, "purchasesArchive")) == 3


def test_an_archive_killed_between_copy_and_delete_resumes_without_loss_or_duplicates(
    history, mongo, monkeypatch, client
):
    # given a run that dies after copying its first batch, before deleting it
    def crash(documents, verified):
        raise KeyboardInterrupt("killed between copy and delete")

    monkeypatch.setattr(archive, "_delete_verified", crash)
    with pytest.raises(KeyboardInterrupt):
        call_command("archive_purchases", "--before", CUTOFF)
    monkeypatch.undo()
    copied = _ids(mongo, "purchasesArchive")
    assert copied and set(copied) <= set(_ids(mongo, "purchases"))  # in both for now

    # meanwhile the customer's history shows each purchase once
    client.force_login(history["ada"])
    page = client.get("/purchases/").content.decode()
    assert page.count("Book 0") == 1

    # when the command runs again
    call_command("archive_purchases", "--before", CUTOFF)

    # then each old purchase is in exactly one collection, as it was
    live, archived = set(_ids(mongo, "purchases")), set(_ids(mongo, "purchasesArchive"))
    assert not live & archived
    assert archived == set(history["originals"])
    assert {doc["_id"]: doc for doc in mongo["purchasesArchive"].find()} == history["originals"]
    assert live == {history["in_flight"].pk, history["new"].pk}


def test_a_copy_made_stale_by_a_later_change_is_replaced_before_the_delete(
    history, mongo, monkeypatch
):
    monkeypatch.setattr(
        archive,
        "_delete_verified",
        lambda documents, verified: (_ for _ in ()).throw(SystemExit(9)),
    )
    with pytest.raises(SystemExit):
        call_command("archive_purchases", "--before", CUTOFF)
    monkeypatch.undo()
    # the completed purchase is refunded after the interrupted copy
    bought = history["old"][0]
    refunded_at = timezone.now().replace(microsecond=0)
    mongo["purchases"].update_one(
        {"_id": bought.pk},
        {"$set": {"status": "refunded", "refundedAt": refunded_at, "updatedAt": refunded_at}},
    )

    call_command("archive_purchases", "--before", CUTOFF)

    copy = mongo["purchasesArchive"].find_one({"_id": bought.pk})
    assert copy["status"] == "refunded"
    assert mongo["purchases"].find_one({"_id": bought.pk}) is None


def test_a_first_purchase_stays_so_the_next_purchase_is_never_first_again(
    mongo, referrer, referred, product_factory, make_purchase
):
    # given a referred buyer's first purchase and a later one, both old, the referral
    # converted long ago (nothing left to reverse)
    first = make_purchase(
        user=referred, product=product_factory(), amount="20.00", is_first_purchase=True
    )
    later = make_purchase(user=referred, product=product_factory(), amount="15.00")
    mongo["purchases"].update_many(
        {"_id": {"$in": [first.pk, later.pk]}}, {"$set": {"createdAt": OLD}}
    )
    Referral.objects.filter(referred_user=referred).update(
        status=ReferralStatus.CONVERTED, credits_awarded=True, converted_at=OLD
    )

    call_command("archive_purchases", "--before", CUTOFF)

    # then the first purchase stays live and the later one moves
    assert mongo["purchases"].find_one({"_id": first.pk}) is not None
    assert mongo["purchasesArchive"].find_one({"_id": first.pk}) is None
    assert mongo["purchasesArchive"].find_one({"_id": later.pk}) is not None
    # and the partial unique index still refuses a second first purchase
    another = make_purchase(user=referred, product=product_factory(), amount="30.00")
    with pytest.raises(DuplicateKeyError):
        mongo["purchases"].update_one({"_id": another.pk}, {"$set": {"isFirstPurchase": True}})


def test_history_receipts_library_analytics_and_exports_read_archived_purchases(
    history, mongo, client, tmp_path
):
    ada, books = history["ada"], history["books"]
    report_before = product_sales_report()
    call_command("archive_purchases", "--before", CUTOFF)
    bought = history["old"][0]

    client.force_login(ada)
    listing = client.get("/purchases/").content.decode()
    receipt = client.get(f"/purchases/{bought.pk}/")

    assert "Book 0" in listing and "Book 1" in listing  # archived ones listed
    assert receipt.status_code == 200 and "Book 0" in receipt.content.decode()
    assert {item.product.pk for item in purchase_library_for_user(user=ada)} == {
        books[0].pk,
        books[3].pk,
    }
    assert purchase_for_product(user=ada, product=books[0])["pk"] == bought.pk
    # The product page and the checkout still know it is bought.
    product_page = client.get(f"/products/{books[0].pk}/").content.decode()
    assert f'<a href="/purchases/{bought.pk}/">View your receipt</a>' in product_page
    assert client.get(f"/checkout/{books[0].pk}/")["Location"] == f"/purchases/{bought.pk}/"
    report = product_sales_report()
    assert report.totals.total_sales == report_before.totals.total_sales == Decimal("19.00")
    exported = user_data_export(user_id=ada.pk)
    assert {d["_id"] for d in exported["purchases"]} == {
        *history["originals"],
        history["in_flight"].pk,
        history["new"].pk,
    }
    out = tmp_path / "archive.csv"
    call_command("export_csv", "--collection", "purchasesArchive", "--output", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(row["amount"] for row in rows) == ["10.00", "12.50", "7.00"]
    json.dumps(exported, default=str)  # still serialisable


def test_reconcile_check_stays_clean_after_an_archive(history, capsys):
    call_command("archive_purchases", "--before", CUTOFF)
    call_command("reconcile_credits", "--check")  # raises (exit 1) on drift


@pytest.mark.parametrize(
    ("value", "reason"),
    [("last tuesday", "is not a date"), ("2999-01-01", "in the future")],
)
def test_a_bad_date_is_refused_with_a_reason(db, value, reason):
    with pytest.raises(CommandError, match=reason):
        call_command("archive_purchases", "--before", value)
