"""What the shop sells reaches its buyers: files and covers in GridFS, uploaded by staff,
downloaded (whole or by range) by owners only, announced by a receipt e-mail."""

import hashlib
import io
import logging
import os
import tracemalloc
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from catalog.models import Product
from catalog.services import UploadRefused, product_cover_attach, product_file_attach
from purchases.models import Download, Purchase, PurchaseStatus
from purchases.services import purchase_checkout, purchase_refund
from tests.factories import UserFactory


def png(size=(64, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 90, 160)).save(buffer, format="PNG")
    return SimpleUploadedFile("cover.png", buffer.getvalue(), "image/png")


def stored_files() -> int:
    return connection.database["fs.files"].count_documents({})


@pytest.fixture
def ebook(product_factory):
    product = product_factory(title="Clean Code", price=Decimal("9.00"))
    data = os.urandom(300_000)  # more than one GridFS chunk
    product_file_attach(
        product=product, upload=SimpleUploadedFile("clean-code.pdf", data, "application/pdf")
    )
    product.refresh_from_db()
    product.data = data
    return product


def bought(user, product) -> Purchase:
    return purchase_checkout(
        user=user,
        product=product,
        credits_used=0,
        token=uuid.uuid4().hex,
        payment_method_id="pm_card_visa",
    )


# --- Staff upload --------------------------------------------------------------------------


def test_staff_upload_a_file_and_a_cover_in_the_admin(client, staff_user, product_factory):
    product = product_factory(title="Refactoring")
    client.force_login(staff_user)
    data = b"%PDF-1.4 a book\n" * 1000

    response = client.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {
            "title": "Refactoring",
            "author": product.author,
            "description": "d",
            "price": "45.00",
            "category": "ebook",
            "image_url": "",
            "upload_file": SimpleUploadedFile("refactoring.pdf", data, "application/pdf"),
            "upload_cover": png((400, 250)),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert (product.file_name, product.file_size) == ("refactoring.pdf", len(data))
    assert product.file_content_type == "application/pdf"
    assert product.file_sha256 == hashlib.sha256(data).hexdigest()
    assert (product.cover_width, product.cover_height) == (400, 250)
    page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
    assert f"/products/{product.pk}/cover" in page  # the preview shows the stored cover
    cover = client.get(f"/products/{product.pk}/cover")
    assert cover.status_code == 200 and cover["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("field", "upload", "message"),
    [
        (
            "upload_cover",
            SimpleUploadedFile("cover.png", b"not an image", "image/png"),
            "not an image we can read",
        ),
        (
            "upload_file",
            SimpleUploadedFile("run.exe", b"MZ...", "application/x-msdownload"),
            "cannot be sold here",
        ),
    ],
)
def test_a_bad_upload_is_a_field_error_and_nothing_is_stored(
    client, staff_user, product_factory, field, upload, message
):
    product = product_factory()
    client.force_login(staff_user)
    before = stored_files()

    response = client.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {
            "title": product.title,
            "author": product.author,
            "description": "d",
            "price": "10.00",
            "category": "ebook",
            "image_url": "",
            field: upload,
        },
    )

    assert response.status_code == 200 and message in response.content.decode()
    assert stored_files() == before


def test_a_file_over_the_size_limit_is_refused(settings, product_factory):
    settings.PRODUCT_FILE_MAX_BYTES = 1000

    with pytest.raises(UploadRefused, match="the limit is"):
        product_file_attach(
            product=product_factory(),
            upload=SimpleUploadedFile("big.pdf", b"x" * 1001, "application/pdf"),
        )
    assert stored_files() == 0


def test_replacing_a_file_removes_the_old_one(product_factory):
    product = product_factory()
    product_file_attach(product=product, upload=SimpleUploadedFile("a.txt", b"a", "text/plain"))
    product_file_attach(product=product, upload=SimpleUploadedFile("b.txt", b"b", "text/plain"))

    assert stored_files() == 1
    assert product.file.open().read() == b"b"


# --- Downloads -------------------------------------------------------------------------------


def test_the_buyer_downloads_the_same_bytes_from_the_receipt(client, user, ebook):
    purchase = bought(user, ebook)
    client.force_login(user)

    receipt = client.get(f"/purchases/{purchase.pk}/").content.decode()
    response = client.get(f"/purchases/{purchase.pk}/download/")

    assert f"/purchases/{purchase.pk}/download/" in receipt
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert hashlib.sha256(body).hexdigest() == ebook.file_sha256
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(ebook.data))
    assert response["Content-Disposition"] == 'attachment; filename="clean-code.pdf"'
    assert Download.objects.get().purchase_id == purchase.pk


def test_a_range_request_returns_the_slice(client, user, ebook):
    purchase = bought(user, ebook)
    client.force_login(user)
    url = f"/purchases/{purchase.pk}/download/"

    middle = client.get(url, headers={"Range": "bytes=262000-262999"})
    tail = client.get(url, headers={"Range": "bytes=-100"})
    outside = client.get(url, headers={"Range": "bytes=999999999-"})

    assert middle.status_code == 206
    assert b"".join(middle.streaming_content) == ebook.data[262000:263000]
    assert middle["Content-Range"] == f"bytes 262000-262999/{len(ebook.data)}"
    assert b"".join(tail.streaming_content) == ebook.data[-100:]
    assert outside.status_code == 416
    assert outside["Content-Range"] == f"bytes */{len(ebook.data)}"


def test_other_customers_and_visitors_get_404(client, user, ebook):
    purchase = bought(user, ebook)
    url = f"/purchases/{purchase.pk}/download/"

    anonymous = client.get(url)
    client.force_login(UserFactory(name="Someone Else"))
    stranger = client.get(url)
    unknown = client.get("/purchases/6b0d3e8f38dcd7f1348853b4/download/")

    assert (anonymous.status_code, stranger.status_code, unknown.status_code) == (404, 404, 404)
    assert not Download.objects.exists()


def test_a_refunded_purchase_loses_its_download(client, user, staff_user, ebook):
    purchase = bought(user, ebook)
    purchase_refund(purchase=purchase, actor=staff_user)
    client.force_login(user)

    response = client.get(f"/purchases/{purchase.pk}/download/")

    assert response.status_code == 403
    assert "refunded" in response.content.decode()


def test_downloads_are_limited_per_customer(client, settings, user, ebook):
    settings.DOWNLOAD_RATE_LIMIT = 2
    purchase = bought(user, ebook)
    client.force_login(user)
    url = f"/purchases/{purchase.pk}/download/"

    statuses = [client.get(url).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_the_library_lists_what_the_customer_owns_newest_first(
    client, user, ebook, product_factory
):
    older = bought(user, ebook)
    newer = bought(user, product_factory(title="Without A File", price=Decimal("5.00")))
    client.force_login(user)

    page = client.get("/library/").content.decode()

    assert page.index("Without A File") < page.index("Clean Code")
    assert f"/purchases/{older.pk}/download/" in page
    assert f"/purchases/{newer.pk}/download/" not in page


def test_a_20_mb_download_streams_in_bounded_memory(client, user, product_factory):
    product = product_factory(price=Decimal("9.00"))
    data = os.urandom(20 * 1024 * 1024)
    product_file_attach(
        product=product, upload=SimpleUploadedFile("big.zip", data, "application/zip")
    )
    purchase = bought(user, product)
    client.force_login(user)
    digest = hashlib.sha256()

    tracemalloc.start()
    response = client.get(f"/purchases/{purchase.pk}/download/")
    for chunk in response.streaming_content:
        digest.update(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while streaming 20 MB"


# --- Receipt e-mail --------------------------------------------------------------------------


def test_a_completed_purchase_sends_a_receipt_once(user, ebook):
    purchase = bought(user, ebook)

    receipts = [m for m in mail.outbox if m.subject.startswith("Your receipt")]
    assert len(receipts) == 1
    body = receipts[0].body
    assert receipts[0].to == [user.email]
    assert str(purchase.pk)[-8:].upper() in receipts[0].subject
    assert "Paid by card: $9.00" in body and "/library/" in body


def test_a_mail_failure_keeps_the_purchase_and_logs_no_address(monkeypatch, caplog, user, ebook):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError(f"cannot reach {user.email}")

    monkeypatch.setattr("purchases.emails.send_mail", broken)
    with caplog.at_level(logging.ERROR, logger="purchases.emails"):
        purchase = bought(user, ebook)

    assert purchase.status == PurchaseStatus.COMPLETED
    assert "receipt e-mail failed" in caplog.text and user.email not in caplog.text


# --- Covers ------------------------------------------------------------------------------------


def test_pages_show_the_stored_cover_with_its_size(client, product_factory):
    product = product_factory()
    product_cover_attach(product=product, upload=png((320, 180)))

    catalog = client.get("/products/").content.decode()
    page = client.get(f"/products/{product.pk}/").content.decode()

    for html in (catalog, page):
        assert f'src="/products/{product.pk}/cover"' in html
        assert 'width="320"' in html and 'height="180"' in html


def test_an_image_url_is_shown_when_there_is_no_stored_cover(client, product_factory):
    product_factory(image_url="https://img.example.com/a.jpg")

    assert 'src="https://img.example.com/a.jpg"' in client.get("/products/").content.decode()


def test_seed_demo_gives_every_product_a_cover_and_a_file(db):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)

    products = list(Product.objects.all())
    assert products and all(p.cover and p.file and p.file_sha256 for p in products)


def test_downloads_appear_in_the_gdpr_export_and_on_the_staff_activity_page(
    client, user, staff_user, ebook
):
    from backoffice.gdpr import user_data_export

    purchase = bought(user, ebook)
    client.force_login(user)
    b"".join(client.get(f"/purchases/{purchase.pk}/download/").streaming_content)

    exported = user_data_export(user_id=user.pk)["downloads"]
    client.force_login(staff_user)
    activity = client.get(f"/admin/accounts/user/{user.pk}/activity/").content.decode()

    assert [d["purchaseId"] for d in exported] == [purchase.pk]
    assert 'id="activity-downloads"' in activity and "Downloads (1)" in activity
