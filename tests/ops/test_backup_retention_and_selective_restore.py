"""backup --keep-days prunes only its own old backups; restore --collection restores one."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from tests.ops.test_backup_restore import documents, indexes, schema_put_back  # noqa: F401


def _age(backup: Path, days: int) -> None:
    """Rewrite a backup's manifest date as if it had been made ``days`` ago."""
    manifest_path = backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    created = datetime.now(UTC) - timedelta(days=days)
    manifest["createdAt"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


def test_keep_days_removes_only_old_backups_this_command_made_after_a_verified_new_one(
    shop, tmp_path, settings
):
    settings.BACKUP_DIR = tmp_path / "backups"
    root = settings.BACKUP_DIR
    root.mkdir()
    for name, days in (("old", 40), ("recent", 10)):
        call_command("backup", "--output", str(root / name), stdout=io.StringIO())
        _age(root / name, days)
    # Things that are not its backups, however old
    (root / "notes").mkdir()
    (root / "notes" / "manifest.json").write_text('{"format": "something-else"}')
    (root / "stray.txt").write_text("keep me")
    call_command("backup", "--output", str(root / "other-db"), stdout=io.StringIO())
    manifest = json.loads((root / "other-db" / "manifest.json").read_text())
    manifest["database"] = "another_shop"
    (root / "other-db" / "manifest.json").write_text(json.dumps(manifest))
    _age(root / "other-db", 90)

    out = io.StringIO()
    call_command("backup", "--keep-days", "30", stdout=out)

    left = sorted(path.name for path in root.iterdir())
    assert "old" not in left
    assert {"recent", "notes", "stray.txt", "other-db"} <= set(left)
    assert len(left) == 5  # and the new one, named by its UTC time
    assert "and verified" in out.getvalue()
    assert f"removed {root / 'old'} (older than 30 days)" in out.getvalue()


def test_keep_days_prunes_nothing_when_the_new_backup_fails(shop, tmp_path, settings):
    settings.BACKUP_DIR = tmp_path / "backups"
    root = settings.BACKUP_DIR
    root.mkdir()
    call_command("backup", "--output", str(root / "old"), stdout=io.StringIO())
    _age(root / "old", 40)
    (root / "taken").mkdir()
    (root / "taken" / "x").write_text("occupied")

    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", "--output", str(root / "taken"), "--keep-days", "30")

    assert (root / "old" / "manifest.json").exists()


def test_keep_days_must_be_positive(db):
    with pytest.raises(CommandError, match="--keep-days must be at least 1"):
        call_command("backup", "--keep-days", "0")


def test_restoring_one_collection_leaves_the_others_untouched(
    shop,
    mongo,
    tmp_path,
    schema_put_back,  # noqa: F811
):
    # given a backup, then changes to products and to users
    call_command("backup", "--output", str(tmp_path / "b"), stdout=io.StringIO())
    products_at_backup = documents(mongo)["products"]
    product_indexes_at_backup = indexes(mongo)["products"]
    Product.objects.create(
        title="Added after the backup", description="d", author="a", price="1.00", category="other"
    )
    mongo.products.drop_index("products_price")
    mongo.users.update_one({"_id": shop.bob.pk}, {"$set": {"name": "Bob Renamed"}})
    everything_else = {k: v for k, v in documents(mongo).items() if k != "products"}

    # when products alone are restored
    out = io.StringIO()
    call_command("restore", str(tmp_path / "b"), "--collection", "products", "--force", stdout=out)

    # then products are as they were, indexes included, and nothing else changed
    after = documents(mongo)
    assert after["products"] == products_at_backup
    assert indexes(mongo)["products"] == product_indexes_at_backup
    assert {k: v for k, v in after.items() if k != "products"} == everything_else
    assert mongo.users.find_one({"_id": shop.bob.pk})["name"] == "Bob Renamed"
    assert "restore: 1 collections" in out.getvalue()


def test_restoring_one_collection_refuses_when_it_holds_documents_without_force(
    shop, mongo, tmp_path
):
    call_command("backup", "--output", str(tmp_path / "b"), stdout=io.StringIO())

    with pytest.raises(CommandError, match=r"already holds documents \(products\)"):
        call_command("restore", str(tmp_path / "b"), "--collection", "products")


def test_restoring_a_collection_the_backup_lacks_is_a_one_line_error(shop, tmp_path):
    call_command("backup", "--output", str(tmp_path / "b"), stdout=io.StringIO())

    with pytest.raises(CommandError, match="has no collection 'nope'; nothing was restored"):
        call_command("restore", str(tmp_path / "b"), "--collection", "nope")
