"""Every ORM query shape the application uses, on whatever server is connected.

With MONGODB_URI set this module checks a real MongoDB; without it, the
embedded server with its accommodations (ARCHITECTURE.md section 3). The gap
each test reproduces on the stand-in is named in its docstring.
"""

from decimal import Decimal

import pytest
from bson import ObjectId
from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from catalog.models import Product
from purchases.models import Purchase
from referral_site.batching import delete_in, filter_in
from referral_site.db.base import DatabaseWrapper
from referral_site.transactions import run_atomically, transactions_supported
from referrals.models import Referral


@pytest.fixture
def shop(user_factory, product_factory):
    ada = user_factory(name="Ada")
    bob = user_factory(name="Bob", referred_by=ada)
    cy = user_factory(name="Cy")
    book = product_factory(title="Book", price=Decimal("10.00"), category="ebook")
    course = product_factory(title="Course", price=Decimal("30.00"), category="course")
    for user, product in ((ada, book), (bob, book), (bob, course)):
        Purchase.objects.create(
            user=user, product=product, product_name=product.title, amount=product.price
        )
    Referral.objects.create(referrer=ada, referred_user=bob)
    return {"ada": ada, "bob": bob, "cy": cy, "book": book, "course": course}


def test_database_version_is_read_through_build_info(db):
    """Gap 1: pymongo's server_info() sends `buildinfo`, unknown to the stand-in."""
    assert connection.get_database_version() >= (7, 0)


def test_filter_and_exclude(shop):
    assert set(
        Product.objects.filter(price__gte=Decimal("20")).values_list("title", flat=True)
    ) == {"Course"}
    assert set(Product.objects.exclude(category="course").values_list("title", flat=True)) == {
        "Book"
    }


def test_q_with_or_and_not(shop):
    """Gap 2: negated Q compiles to the `$not` expression."""
    names = User.objects.filter(Q(name="Ada") | Q(name="Cy")).values_list("name", flat=True)
    assert set(names) == {"Ada", "Cy"}
    assert set(User.objects.filter(~Q(name="Ada")).values_list("name", flat=True)) == {"Bob", "Cy"}


def test_isnull(shop):
    """Gap 2: isnull compiles to `$not` too."""
    assert set(User.objects.filter(referred_by__isnull=True).values_list("name", flat=True)) == {
        "Ada",
        "Cy",
    }
    assert list(User.objects.filter(referred_by__isnull=False).values_list("name", flat=True)) == [
        "Bob"
    ]


def test_select_related_across_two_foreign_keys(shop):
    rows = Purchase.objects.select_related("user", "product").filter(user=shop["bob"])
    assert {(p.user.name, p.product.title) for p in rows} == {("Bob", "Book"), ("Bob", "Course")}


def test_ordering_by_a_related_field_with_select_related(shop):
    """Gap 3: the nested document in $addFields must be read as dotted paths."""
    rows = Purchase.objects.select_related("user", "product").order_by(
        "product__title", "user__name"
    )
    assert [(p.product.title, p.user.name) for p in rows] == [
        ("Book", "Ada"),
        ("Book", "Bob"),
        ("Course", "Bob"),
    ]


def test_values_annotate_group_by_across_a_foreign_key(shop):
    """Gap 3: the nested document in $project must be read as dotted paths."""
    rows = (
        Purchase.objects.values("product__title")
        .annotate(total=Sum("amount"), n=Count("pk"))
        .order_by("product__title")
    )
    assert list(rows) == [
        {"product__title": "Book", "total": Decimal("20.00"), "n": 2},
        {"product__title": "Course", "total": Decimal("30.00"), "n": 1},
    ]


def test_count_and_exists(shop):
    assert Purchase.objects.filter(user=shop["bob"]).count() == 2
    assert Purchase.objects.filter(user=shop["ada"]).exists()
    assert not Purchase.objects.filter(user=shop["cy"]).exists()


def test_aggregate_with_coalesce_agrees_on_empty_input(shop):
    """Gap 5: Sum over nothing is None on MongoDB and 0 on the stand-in; Coalesce agrees."""
    total = Purchase.objects.filter(user=shop["cy"]).aggregate(
        total=Coalesce(Sum("amount"), Decimal("0"))
    )["total"]
    assert total == Decimal("0")
    per_user = dict(
        User.objects.annotate(spent=Coalesce(Sum("purchases__amount"), Decimal("0"))).values_list(
            "name", "spent"
        )
    )
    assert per_user == {"Ada": Decimal("10.00"), "Bob": Decimal("40.00"), "Cy": Decimal("0")}


def test_conditional_update_with_f_has_exactly_one_winner(shop):
    ada = shop["ada"]
    User.objects.filter(pk=ada.pk).update(credits=1)

    first = User.objects.filter(pk=ada.pk, credits__gte=1).update(credits=F("credits") - 1)
    second = User.objects.filter(pk=ada.pk, credits__gte=1).update(credits=F("credits") - 1)

    assert (first, second) == (1, 0)
    assert User.objects.get(pk=ada.pk).credits == 0


def test_unique_violations_raise_integrity_error(shop):
    with pytest.raises(IntegrityError):
        Referral.objects.create(referrer=shop["cy"], referred_user=shop["bob"])
    with pytest.raises(IntegrityError):
        User.objects.filter(pk=shop["cy"].pk).update(referral_code=shop["ada"].referral_code)


def test_in_list_of_a_thousand_ids_in_batches(shop):
    """Gap 6: the SQLite engine rejects an $in of more than about 490 values."""
    ids = [shop["book"].pk, shop["course"].pk] + [ObjectId() for _ in range(998)]

    found = filter_in(Product.objects.all(), "pk", ids)
    deleted = delete_in(Referral.objects.all(), "referrer_id", [shop["ada"].pk] + ids)

    assert {p.title for p in found} == {"Book", "Course"}
    assert deleted == 1


def test_dates_in_utc(shop):
    """Gap 4: $dateTrunc with a time zone is unsupported; TIME_ZONE stays UTC."""
    assert settings.TIME_ZONE == "UTC"
    assert len(Purchase.objects.dates("created_at", "day")) == 1


def test_transactions_follow_the_deployment(db):
    """Gap 7: never open a transaction where `hello` reports no replica set."""
    connection.ensure_connection()
    hello = connection.connection.admin.command("hello")
    replica_set = "setName" in hello or hello.get("msg") == "isdbgrid"

    assert transactions_supported() is replica_set
    assert run_atomically(lambda: User.objects.filter(name="nobody").update(credits=1)) == 0
    assert connection.session is None


def test_admin_change_page_of_a_user(client, staff_user, shop):
    """Gap 3: the admin's user change page used nested projections."""
    client.force_login(staff_user)

    response = client.get(f"/admin/accounts/user/{shop['bob'].pk}/change/")

    assert response.status_code == 200
    assert shop["bob"].referral_code.encode() in response.content


def test_a_collection_is_built_once_per_client(db):
    """The connection hands out one Collection per name until it reconnects."""
    users = connection.get_collection("users")

    assert connection.get_collection("users") is users
    assert connection.get_collection("products").name == "products"

    settings_dict = {**connection.settings_dict}
    settings_dict.pop("EMBEDDED", None)
    other = DatabaseWrapper(settings_dict, alias="collections-test")
    try:
        before = other.get_collection("users")
        assert before is not users  # another client
        other.close_pool()
        after = other.get_collection("users")
        # A collection of the new client, which answers; not the closed one.
        assert after is not before
        assert after.database.client is other.connection
        assert after.find_one({"_id": ObjectId()}) is None
    finally:
        other.close_pool()


def test_the_debug_query_log_still_sees_direct_commands(db):
    """Under DEBUG's query log a collection is the backend's logging wrapper, as before."""
    plain = connection.get_collection("users")  # handed out (and kept) outside the log

    with CaptureQueriesContext(connection) as queries:
        assert connection.get_collection("users") is not plain
        connection.get_collection("users").find_one({"name": "nobody"})

    assert [query["sql"] for query in queries] == ["db.users.find_one({'name': 'nobody'})"]
