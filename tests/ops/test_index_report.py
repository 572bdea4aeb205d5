"""index_report: every index of the application's collections, why it is there, what is missing."""

import io

import pytest
from django.core.management import CommandError, call_command

from referral_site.ops.indexes import declared_indexes, key_of
from tests.ops.test_backup_restore import schema_put_back  # noqa: F401


def report(*args) -> str:
    out = io.StringIO()
    call_command("index_report", *args, stdout=out)
    return out.getvalue()


def test_the_report_lists_every_index_with_its_reason_and_says_what_the_embedded_server_cannot_tell(
    db,
):
    out = report("--check")  # nothing missing: exit 0

    assert "purchases_user_card {userId: 1, cardFingerprint: 1}" in out
    assert "needed: purchases.Purchase index purchases_user_card" in out
    assert "needed: uniqueness; purchases.Purchase constraint purchases_one_first_per_user" in out
    assert "archive_user_created {userId: 1, createdAt: -1}" in out
    assert "products_title_text {title: text}" in out
    assert "TTL expiry" in out  # sessions and rate limits
    assert "missing indexes (0):" in out
    assert "cannot tell index use" in out
    assert "which queries no index serves" in out


def test_a_single_field_index_inside_a_compound_one_is_pointed_out(db):
    out = report()

    assert (
        "purchases.purchases_userId_cc428f19 {userId: 1} is a prefix of purchases_user_card" in out
    )


def test_check_exits_1_when_a_declared_index_is_missing(
    mongo,
    schema_put_back,  # noqa: F811
):
    mongo.purchases.drop_index("purchases_user_card")

    out = io.StringIO()
    with pytest.raises(CommandError, match="1 needed indexes are missing"):
        call_command("index_report", "--check", stdout=out)

    assert (
        "missing indexes (1):\n  purchases {userId: 1, cardFingerprint: 1} "
        "(purchases.Purchase index purchases_user_card)" in out.getvalue()
    )
    report()  # without --check it only reports


def test_declared_keys_follow_the_models_columns_and_directions():
    declared = {(d.collection, d.key) for d in declared_indexes()}

    assert ("purchases", (("createdAt", -1),)) in declared
    assert ("purchases", (("userId", 1), ("isFirstPurchase", 1))) in declared
    assert ("products", (("title", "text"),)) in declared
    assert ("purchasesArchive", (("userId", 1), ("createdAt", -1))) in declared


def test_a_real_mongodb_text_index_key_reads_as_its_fields():
    spec = {"key": {"_fts": "text", "_ftsx": 1}, "weights": {"title": 1}, "name": "t"}

    assert key_of(spec) == (("title", "text"),)
