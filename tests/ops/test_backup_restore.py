"""manage.py backup and restore: exact round trip, checksums, refusals, no partial output."""

import hashlib
import io
import json
from pathlib import Path

import pytest
from bson import SON
from django.core.management import CommandError, call_command

from catalog.models import Product
from referral_site.ops import backup as backup_module
from referral_site.ops.restore import index_model


def user_collections(mongo) -> list[str]:
    return sorted(name for name in mongo.list_collection_names() if not name.startswith("system."))


def documents(mongo) -> dict[str, list[dict]]:
    """Every document of every collection, as pymongo returns them."""
    return {name: list(mongo[name].find().sort("_id", 1)) for name in user_collections(mongo)}


def indexes(mongo) -> dict[str, dict[str, dict]]:
    return {
        name: {
            index["name"]: {key: value for key, value in index.items() if key != "ns"}
            for index in mongo[name].list_indexes()
        }
        for name in user_collections(mongo)
    }


def wipe(mongo) -> None:
    for name in user_collections(mongo):
        mongo.drop_collection(name)


@pytest.fixture
def schema_put_back(mongo):
    """Whatever a test does to collections and indexes, later tests find them as they were.

    Restore is what puts them back in these tests; this is the safety net if
    it fails, independent of the code under test (documents are flushed by
    pytest-django after each test anyway).
    """
    options = {info["name"]: info.get("options", {}) for info in mongo.list_collections()}
    before = indexes(mongo)
    yield
    present = set(mongo.list_collection_names())
    for name, specs in before.items():
        if name not in present:
            mongo.create_collection(name, **options.get(name, {}))
        missing = set(specs) - {index["name"] for index in mongo[name].list_indexes()}
        if missing:
            mongo.command(
                "createIndexes",
                name,
                indexes=[
                    {key: value for key, value in specs[index_name].items() if key != "v"}
                    for index_name in missing
                ],
            )


def backup(path: Path) -> str:
    out = io.StringIO()
    call_command("backup", "--output", str(path), stdout=out)
    return out.getvalue()


def restore(path: Path, *args, stderr: io.StringIO | None = None) -> str:
    out = io.StringIO()
    call_command("restore", str(path), *args, stdout=out, stderr=stderr or io.StringIO())
    return out.getvalue()


# ---- the round trip -----------------------------------------------------------------


def test_backup_then_wipe_then_restore_gives_back_every_document_and_index(
    shop, mongo, tmp_path, schema_put_back
):
    # Given the shop's data and a backup of it
    documents_before, indexes_before = documents(mongo), indexes(mongo)
    backup(tmp_path / "backup")

    # When the database is wiped and the backup restored
    wipe(mongo)
    assert user_collections(mongo) == []
    printed = restore(tmp_path / "backup")

    # Then every document comes back exactly (Decimal128, ObjectId, datetimes,
    # field order), and so does every index with its options
    assert documents(mongo) == documents_before
    assert indexes(mongo) == indexes_before
    assert documents_before["purchases"][0]["amount"].to_decimal() == shop.purchase.amount
    assert indexes_before["rateLimits"]["rateLimits_expiresAt_ttl"]["expireAfterSeconds"] == 0
    assert indexes_before["products"]["products_title_text"]["key"] == SON([("title", "text")])
    assert indexes_before["purchases"]["purchases_one_first_per_user"]["unique"] is True
    assert "partialFilterExpression" in indexes_before["purchases"]["purchases_one_first_per_user"]
    total = sum(len(docs) for docs in documents_before.values())
    assert printed.strip() == (
        f"restore: {len(documents_before)} collections, {total} "
        f"documents restored from {tmp_path / 'backup'}"
    )


def test_product_files_come_back_byte_for_byte_after_backup_and_restore(
    shop, mongo, tmp_path, schema_put_back
):
    import os

    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.services import product_file_attach

    data = os.urandom(600_000)  # several GridFS chunks
    product_file_attach(
        product=shop.product, upload=SimpleUploadedFile("book.pdf", data, "application/pdf")
    )
    backup(tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert {"fs.files", "fs.chunks"} <= {entry["name"] for entry in manifest["collections"]}

    wipe(mongo)
    restore(tmp_path / "backup")

    product = Product.objects.get(pk=shop.product.pk)
    assert (
        hashlib.sha256(product.file.open().read()).hexdigest() == hashlib.sha256(data).hexdigest()
    )


def test_restored_unique_indexes_still_reject_duplicates(shop, mongo, tmp_path, schema_put_back):
    from pymongo.errors import DuplicateKeyError

    backup(tmp_path / "backup")
    wipe(mongo)
    restore(tmp_path / "backup")

    with pytest.raises(DuplicateKeyError):
        mongo.creditTransactions.insert_one({"idempotencyKey": shop.reward.idempotency_key})


def test_backup_writes_extended_json_lines_and_a_manifest_with_counts_and_checksums(
    shop, mongo, tmp_path
):
    # Given an existing, empty directory (allowed)
    target = tmp_path / "backup"
    target.mkdir()

    printed = backup(target)

    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["format"] == "referral-store-backup"
    assert manifest["database"] == mongo.name
    assert manifest["createdAt"].endswith("Z")
    assert manifest["schemaVersion"]["accounts"] == max(
        row["name"] for row in mongo.django_migrations.find({"app": "accounts"})
    )
    entries = {entry["name"]: entry for entry in manifest["collections"]}
    assert sorted(entries) == user_collections(mongo)
    for name, entry in entries.items():
        data = (target / entry["file"]).read_bytes()
        assert entry["documents"] == mongo[name].count_documents({}) == data.count(b"\n")
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert (
            entry["metadataSha256"]
            == hashlib.sha256((target / entry["metadataFile"]).read_bytes()).hexdigest()
        )
    product_line = json.loads((target / "products.jsonl").read_text().splitlines()[0])
    assert product_line["price"] == {"$numberDecimal": "32.99"}
    assert product_line["_id"] == {"$oid": str(shop.product.pk)}
    assert product_line["createdAt"] == {"$date": {"$numberLong": "1704873600000"}}
    assert "manifest.json" in {path.name for path in target.iterdir()}
    assert [path.name for path in tmp_path.iterdir()] == ["backup"]
    assert printed.startswith(f"backup: {len(entries)} collections, ")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_backup_and_restore_show_progress_on_a_terminal_only(
    shop, tmp_path, capsys, schema_put_back
):
    quiet = io.StringIO()
    call_command("backup", "--output", str(tmp_path / "quiet"), stdout=io.StringIO(), stderr=quiet)
    assert quiet.getvalue() == capsys.readouterr().err == ""

    call_command(
        "backup", "--output", str(tmp_path / "shown"), stdout=io.StringIO(), stderr=Terminal()
    )
    backup_bars = capsys.readouterr().err
    call_command(
        "restore", str(tmp_path / "shown"), "--force", stdout=io.StringIO(), stderr=Terminal()
    )
    restore_bars = capsys.readouterr().err

    # rich draws on the process's stderr; each collection gets a bar with its count
    assert "purchases" in backup_bars and "1/1" in backup_bars
    assert "creditTransactions" in restore_bars and "1/1" in restore_bars


# ---- refusals -------------------------------------------------------------------


def test_backup_refuses_a_directory_that_is_not_empty(shop, tmp_path):
    target = tmp_path / "backup"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")

    with pytest.raises(CommandError, match="is not empty"):
        backup(target)

    assert [path.name for path in target.iterdir()] == ["notes.txt"]
    assert [path.name for path in tmp_path.iterdir()] == ["backup"]


def test_an_interrupted_backup_leaves_no_directory_behind(shop, tmp_path, monkeypatch):
    real_dumps, calls = backup_module.dumps, []

    def dumps_then_fail(value):
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return real_dumps(value)

    monkeypatch.setattr(backup_module, "dumps", dumps_then_fail)

    with pytest.raises(KeyboardInterrupt):
        backup(tmp_path / "backup")

    assert len(calls) == 20
    assert list(tmp_path.iterdir()) == []


def test_restore_refuses_a_database_that_holds_documents_and_changes_nothing(shop, mongo, tmp_path):
    backup(tmp_path / "backup")
    Product.objects.create(
        title="Added after the backup", description="d", author="a", price="1.00", category="other"
    )
    before = documents(mongo)

    with pytest.raises(CommandError, match=r"already holds documents \(.*\); .*--force"):
        restore(tmp_path / "backup")

    assert documents(mongo) == before


def test_restore_with_force_replaces_the_collections_of_the_backup(
    shop, mongo, tmp_path, schema_put_back
):
    documents_at_backup, indexes_at_backup = documents(mongo), indexes(mongo)
    backup(tmp_path / "backup")
    Product.objects.create(
        title="Added after the backup", description="d", author="a", price="1.00", category="other"
    )
    mongo.products.drop_index("products_price")

    warnings = io.StringIO()

    printed = restore(tmp_path / "backup", "--force", stderr=warnings)

    assert documents(mongo) == documents_at_backup
    assert indexes(mongo) == indexes_at_backup
    assert printed.strip().endswith(f"({len(documents_at_backup)} replaced)")
    assert warnings.getvalue() == ""  # same code, same migrations


def test_restore_warns_when_the_backup_was_taken_at_another_schema_version(
    shop, mongo, tmp_path, schema_put_back
):
    backup(tmp_path / "backup")
    manifest_path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    code_version = manifest["schemaVersion"]["accounts"]  # the latest accounts migration
    manifest["schemaVersion"]["accounts"] = "0001_initial"
    manifest_path.write_text(json.dumps(manifest))
    warnings = io.StringIO()

    restore(tmp_path / "backup", "--force", stderr=warnings)

    assert code_version != "0001_initial"
    assert warnings.getvalue().startswith(
        "restore: the backup's migrations differ from this code's (accounts: backup "
        f"0001_initial, code {code_version})"
    )
    assert warnings.getvalue().count("\n") == 1


def test_a_tampered_file_fails_its_checksum_and_nothing_is_written(shop, mongo, tmp_path):
    backup(tmp_path / "backup")
    products = tmp_path / "backup" / "products.jsonl"
    products.write_text(products.read_text().replace('"32.99"', '"0.99"'))
    Product.objects.create(
        title="Added after the backup", description="d", author="a", price="1.00", category="other"
    )
    before = documents(mongo)

    with pytest.raises(CommandError) as raised:
        restore(tmp_path / "backup", "--force")

    assert str(raised.value) == (
        "checksum mismatch in products.jsonl: the backup is damaged "
        "or was edited; nothing was restored"
    )
    assert documents(mongo) == before


def test_an_unreadable_line_with_a_valid_checksum_is_named_and_nothing_is_written(
    shop, mongo, tmp_path
):
    backup(tmp_path / "backup")
    products = tmp_path / "backup" / "products.jsonl"
    lines = products.read_bytes().splitlines(keepends=True)
    products.write_bytes(b"".join([b"{not json\n", *lines[1:]]))  # same count, bad line
    manifest_path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["collections"]:
        if entry["name"] == "products":
            entry["sha256"] = hashlib.sha256(products.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    before, indexes_before = documents(mongo), indexes(mongo)

    with pytest.raises(CommandError) as raised:
        restore(tmp_path / "backup", "--force")

    assert str(raised.value).startswith("products.jsonl line 1 is not a document")
    assert str(raised.value).endswith("nothing was restored")
    assert documents(mongo) == before and indexes(mongo) == indexes_before


@pytest.mark.parametrize("command", ["backup", "export_csv"])
def test_a_folder_that_cannot_be_written_is_a_one_line_error(shop, command):
    # /sys is read-only here even for root.
    args = (
        ["--output", "/sys/referral-backup"]
        if command == "backup"
        else ["--collection", "users", "--output", "/sys/users.csv"]
    )

    with pytest.raises(CommandError) as raised:
        call_command(command, *args, verbosity=0)

    assert str(raised.value).startswith("cannot write in /sys")
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_named_and_nothing_is_written(shop, mongo, tmp_path):
    backup(tmp_path / "backup")
    (tmp_path / "backup" / "users.metadata.json").unlink()
    before = documents(mongo)

    with pytest.raises(CommandError, match="^users.metadata.json is missing from the backup"):
        restore(tmp_path / "backup", "--force")

    assert documents(mongo) == before


def test_restore_of_a_directory_without_a_manifest_is_a_one_line_error(db, tmp_path):
    with pytest.raises(CommandError, match="has no manifest.json; is it a backup"):
        restore(tmp_path)


def test_a_manifest_naming_a_file_outside_the_backup_is_rejected(shop, tmp_path):
    backup(tmp_path / "backup")
    manifest_path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["collections"][0]["file"] = "../elsewhere.jsonl"
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(CommandError, match="invalid entry for collection"):
        restore(tmp_path / "backup", "--force")


# ---- index definitions from either server --------------------------------------------


def test_a_real_mongodb_text_index_is_recreated_from_its_fts_key_and_weights():
    spec = {
        "v": 2,
        "key": SON([("_fts", "text"), ("_ftsx", 1)]),
        "name": "products_title_text",
        "ns": "shop.products",
        "weights": SON([("title", 1)]),
        "default_language": "english",
        "language_override": "language",
        "textIndexVersion": 3,
    }

    assert index_model(spec).document == {
        "key": SON([("title", "text")]),
        "name": "products_title_text",
        "weights": SON([("title", 1)]),
        "default_language": "english",
        "language_override": "language",
    }


def test_a_compound_text_index_keeps_its_other_keys_around_the_text_fields():
    spec = {
        "v": 2,
        "key": SON([("category", 1), ("_fts", "text"), ("_ftsx", 1)]),
        "name": "category_title_author",
        "weights": SON([("author", 1), ("title", 5)]),
    }

    assert index_model(spec).document["key"] == SON(
        [("category", 1), ("author", "text"), ("title", "text")]
    )


def test_the_embedded_servers_text_index_shape_is_recreated_as_it_is():
    spec = {
        "key": SON([("title", "text")]),
        "name": "products_title_text",
        "unique": False,
        "ns": "test.products",
    }

    assert index_model(spec).document == {
        "key": SON([("title", "text")]),
        "name": "products_title_text",
        "unique": False,
    }


def test_ttl_and_partial_unique_options_are_carried_over():
    spec = {
        "v": 2,
        "key": SON([("expiresAt", 1)]),
        "name": "ttl",
        "expireAfterSeconds": 0,
        "unique": True,
        "partialFilterExpression": {"expiresAt": {"$exists": True}},
    }

    assert index_model(spec).document == {
        "key": SON([("expiresAt", 1)]),
        "name": "ttl",
        "expireAfterSeconds": 0,
        "unique": True,
        "partialFilterExpression": {"expiresAt": {"$exists": True}},
    }
