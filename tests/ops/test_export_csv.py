"""manage.py export_csv: columns, exact values, --since, --output, errors, memory."""

import csv
import io
import os
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from bson import Decimal128, Int64, ObjectId
from django.core.management import CommandError, call_command
from pymongo.errors import AutoReconnect

from referral_site.ops import csv_export

ROOT = Path(__file__).resolve().parents[2]


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_csv", *args, stdout=out)
    return out.getvalue()


def table(text: str) -> tuple[list[str], list[dict]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# ---- each collection ------------------------------------------------------------


def test_users_export_has_the_documented_columns_and_never_the_password_hash(shop, mongo):
    password_hash = mongo.users.find_one({"_id": shop.alice.pk})["password"]

    text = export("--collection", "users")

    header, rows = table(text)
    assert header == [
        "_id",
        "clerkUserId",
        "referralCode",
        "name",
        "email",
        "credits",
        "totalCreditsEarned",
        "totalReferredUsers",
        "referredBy",
        "isActive",
        "isStaff",
        "createdAt",
        "updatedAt",
    ]
    assert password_hash.startswith("md5$") and password_hash not in text
    assert "password" not in text.lower()
    alice, bob = sorted(rows, key=lambda row: row["name"])
    assert alice == {
        "_id": str(shop.alice.pk),
        "clerkUserId": shop.alice.clerk_user_id,
        "referralCode": shop.alice.referral_code,
        "name": "Alice Referrer",
        "email": "alice@example.com",
        "credits": "2",
        "totalCreditsEarned": "2",
        "totalReferredUsers": "0",
        "referredBy": "",
        "isActive": "true",
        "isStaff": "false",
        "createdAt": "2024-01-10T08:00:00.000Z",
        "updatedAt": "2024-01-15T10:30:00.250Z",
    }
    assert bob["referredBy"] == str(shop.alice.pk)
    assert bob["createdAt"] == "2024-01-12T14:20:00.000Z"


def test_purchases_export_writes_money_as_plain_decimals_and_times_in_utc(shop):
    header, rows = table(export("--collection", "purchases"))

    assert header == [
        "_id",
        "userId",
        "productId",
        "productName",
        "amount",
        "creditsUsed",
        "creditAmount",
        "cashAmount",
        "paymentMethodId",
        "isFirstPurchase",
        "referralCreditAwarded",
        "status",
        "refundedAt",
        "createdAt",
        "updatedAt",
    ]
    assert rows == [
        {
            "_id": str(shop.purchase.pk),
            "userId": str(shop.bob.pk),
            "productId": str(shop.product.pk),
            "productName": "Clean Code",
            "amount": "32.99",
            "creditsUsed": "2",
            "creditAmount": "20.00",
            "cashAmount": "12.99",
            "paymentMethodId": "pm_1234567890",
            "isFirstPurchase": "true",
            "referralCreditAwarded": "true",
            "status": "completed",
            "refundedAt": "",
            "createdAt": "2024-01-12T14:20:00.000Z",
            "updatedAt": "2024-01-12T14:20:00.000Z",
        }
    ]


def test_referrals_export_writes_status_flags_and_conversion_time(shop):
    header, rows = table(export("--collection", "referrals"))

    assert header == [
        "_id",
        "referrerId",
        "referredUserId",
        "status",
        "creditsAwarded",
        "convertedAt",
        "createdAt",
        "updatedAt",
    ]
    assert rows == [
        {
            "_id": str(shop.referral.pk),
            "referrerId": str(shop.alice.pk),
            "referredUserId": str(shop.bob.pk),
            "status": "converted",
            "creditsAwarded": "true",
            "convertedAt": "2024-01-12T14:20:00.000Z",
            "createdAt": "2024-01-10T08:00:00.000Z",
            "updatedAt": "2024-01-12T14:20:00.000Z",
        }
    ]


def test_products_export_writes_the_catalog_with_decimal_prices(shop):
    header, rows = table(export("--collection", "products"))

    assert header == [
        "_id",
        "title",
        "description",
        "author",
        "price",
        "category",
        "imageUrl",
        "createdAt",
        "updatedAt",
    ]
    assert rows == [
        {
            "_id": str(shop.product.pk),
            "title": "Clean Code",
            "description": "A handbook of agile software craftsmanship",
            "author": "Robert C. Martin",
            "price": "32.99",
            "category": "ebook",
            "imageUrl": "https://example.com/clean-code.jpg",
            "createdAt": "2024-01-10T08:00:00.000Z",
            "updatedAt": "2024-01-10T08:00:00.000Z",
        }
    ]


def test_credit_transactions_export_writes_the_ledger_entry(shop):
    header, rows = table(export("--collection", "creditTransactions"))

    assert header == [
        "_id",
        "userId",
        "amount",
        "kind",
        "purchaseId",
        "referralId",
        "actorId",
        "reason",
        "balanceAfter",
        "idempotencyKey",
        "createdAt",
    ]
    assert rows == [
        {
            "_id": str(shop.reward.pk),
            "userId": str(shop.alice.pk),
            "amount": "2",
            "kind": "referral_reward_referrer",
            "purchaseId": str(shop.purchase.pk),
            "referralId": str(shop.referral.pk),
            "actorId": "",
            "reason": "Bob Buyer's first purchase",
            "balanceAfter": "2",
            "idempotencyKey": f"referral-reward:{shop.referral.pk}:{shop.alice.pk}",
            "createdAt": "2024-01-12T14:20:00.000Z",
        }
    ]


def test_an_empty_collection_exports_just_the_header(db):
    assert export("--collection", "referrals") == (
        "_id,referrerId,referredUserId,status,creditsAwarded,convertedAt,createdAt,updatedAt\n"
    )


def test_text_a_spreadsheet_would_run_as_a_formula_is_exported_inert(user_factory):
    user_factory(name='=HYPERLINK("https://evil.example","prize")', email="eve@example.com")

    _, rows = table(export("--collection", "users"))

    assert rows[0]["name"] == '\'=HYPERLINK("https://evil.example","prize")'


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Decimal128("20"), "20"),
        (Decimal128("2E+1"), "20"),
        (Decimal("0.10"), "0.10"),
        (Int64(7), "7"),
        (-2, "-2"),
        (False, "false"),
        (None, ""),
        (ObjectId("507f1f77bcf86cd799439011"), "507f1f77bcf86cd799439011"),
        # pymongo returns naive datetimes, which are UTC
        (datetime(2024, 1, 12, 14, 20), "2024-01-12T14:20:00.000Z"),  # noqa: DTZ001
        (
            datetime(2024, 1, 12, 15, 20, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
            "2024-01-12T14:20:00.123Z",
        ),
    ],
)
def test_cells_are_plain_text_a_spreadsheet_reads_correctly(value, cell):
    assert csv_export.format_value(value) == cell


# ---- --since -----------------------------------------------------------------------


@pytest.fixture
def three_products(mongo, product_factory):
    products = [product_factory(title=title) for title in ("Early", "Boundary", "Late")]
    for product, created in zip(
        products,
        (
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 1, 15, tzinfo=UTC),
            datetime(2024, 2, 1, tzinfo=UTC),
        ),
        strict=True,
    ):
        mongo.products.update_one({"_id": product.pk}, {"$set": {"createdAt": created}})
    return products


@pytest.mark.parametrize(
    "since",
    ["2024-01-15", "2024-01-15T00:00:00Z", "2024-01-15T01:00:00+01:00", "2024-01-15T00:00:00"],
)
def test_since_keeps_documents_created_on_or_after_the_moment(three_products, since):
    _, rows = table(export("--collection", "products", "--since", since))

    assert [row["title"] for row in rows] == ["Boundary", "Late"]


def test_since_a_moment_after_the_boundary_leaves_it_out(three_products):
    _, rows = table(export("--collection", "products", "--since", "2024-01-15T00:00:00.001Z"))

    assert [row["title"] for row in rows] == ["Late"]


@pytest.mark.parametrize("since", ["yesterday", "2024-13-01", "15/01/2024", ""])
def test_a_bad_since_date_is_a_one_line_error_and_writes_nothing(three_products, tmp_path, since):
    target = tmp_path / "products.csv"

    with pytest.raises(CommandError) as raised:
        call_command(
            "export_csv", "--collection", "products", "--since", since, "--output", str(target)
        )

    assert "is not a date" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_manage_py_exits_1_with_one_line_and_no_traceback_on_a_bad_date():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "referral_site.settings.test"}

    result = subprocess.run(
        [sys.executable, "manage.py", "export_csv", "--collection", "users", "--since", "soon"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: --since 'soon' is not a date: use YYYY-MM-DD or an ISO 8601 datetime "
        "such as 2024-01-12T14:20:00Z"
    ]


def test_a_reader_that_goes_away_stops_the_export_quietly(mongo):
    # Given more CSV than a pipe buffers (64 KiB)
    for start in (0, 500):
        mongo.products.insert_many(
            [{"title": f"Product {n}", "description": "x" * 300} for n in range(start, start + 500)]
        )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "referral_site.settings.test",
        "MONGODB_URI": os.environ.get("MONGODB_URI") or os.environ["TEST_MONGODB_URI"],
        "MONGODB_NAME": mongo.name,
    }

    exporter = subprocess.Popen(
        [sys.executable, "manage.py", "export_csv", "--collection", "products"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    # When the reader takes the first line and goes away, like `| head -1`
    first_line = exporter.stdout.readline()
    exporter.stdout.close()
    status = exporter.wait(timeout=120)

    # Then the export stops with status 1 and says nothing (no traceback)
    assert first_line.startswith(b"_id,title,description,author,price,")
    assert status == 1
    assert exporter.stderr.read() == b""
    exporter.stderr.close()


def test_an_unknown_collection_is_refused_by_the_argument_parser(db):
    with pytest.raises(CommandError, match="invalid choice: 'sessions'"):
        call_command("export_csv", "--collection", "sessions")


# ---- --output ----------------------------------------------------------------------


def test_output_writes_the_same_csv_to_the_file_and_leaves_no_temporary_file(shop, tmp_path):
    target = tmp_path / "users.csv"
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "export_csv", "--collection", "users", "--output", str(target), stdout=out, stderr=err
    )

    assert out.getvalue() == err.getvalue() == ""  # quiet when not on a terminal
    assert target.read_text(encoding="utf-8") == export("--collection", "users")
    assert [path.name for path in tmp_path.iterdir()] == ["users.csv"]


def test_a_failure_mid_export_keeps_the_previous_file_and_leaves_no_partial_one(
    shop, tmp_path, monkeypatch
):
    target = tmp_path / "purchases.csv"
    target.write_text("yesterday's export\n", encoding="utf-8")
    real_iter = csv_export.iter_documents

    def failing_after_one_document(*args, **kwargs):
        documents = real_iter(*args, **kwargs)
        yield next(documents)
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(csv_export, "iter_documents", failing_after_one_document)

    with pytest.raises(CommandError, match="^database error: AutoReconnect: connection closed$"):
        call_command("export_csv", "--collection", "purchases", "--output", str(target))

    assert target.read_text(encoding="utf-8") == "yesterday's export\n"
    assert [path.name for path in tmp_path.iterdir()] == ["purchases.csv"]


def test_output_into_a_missing_directory_is_a_one_line_error(db, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "export_csv",
            "--collection",
            "users",
            "--output",
            str(tmp_path / "nowhere" / "users.csv"),
        )


# ---- constant memory ---------------------------------------------------------------


def _peak_export_bytes(target: Path, *args) -> int:
    tracemalloc.start()
    try:
        call_command("export_csv", "--collection", "products", "--output", str(target), *args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_does_not_grow_with_the_number_of_rows(mongo, tmp_path, monkeypatch):
    # Given 1,000 products, the newest 200 of them created in February; and
    # batches of 50 so that both exports below span many batches.
    monkeypatch.setattr(csv_export, "BATCH_SIZE", 50)
    for start in range(0, 1_000, 500):
        mongo.products.insert_many(
            [
                {
                    "title": f"Product {n}",
                    "description": "x" * 1_000,
                    "author": "A. Author",
                    "price": Decimal128("19.99"),
                    "category": "ebook",
                    "imageUrl": "",
                    "createdAt": datetime(2024, 2 if n >= 800 else 1, 1, tzinfo=UTC),
                    "updatedAt": datetime(2024, 1, 1, tzinfo=UTC),
                }
                for n in range(start, start + 500)
            ]
        )

    # When exporting 200 rows, then all 1,000
    small = _peak_export_bytes(tmp_path / "200.csv", "--since", "2024-02-01")
    large = _peak_export_bytes(tmp_path / "1000.csv")

    # Then the peak stays put; holding every row would make it about 5 times larger.
    assert len((tmp_path / "200.csv").read_text().splitlines()) == 201
    assert len((tmp_path / "1000.csv").read_text().splitlines()) == 1_001
    assert large < small * 1.5, (small, large)
