"""The admin's site-wide "Export selected as CSV" action."""

import csv
import io

import pytest
from django.contrib import admin

from catalog.models import Product
from purchases.models import PaymentEvent

ACTION = "export_selected_as_csv"


def exported(response) -> tuple[list[str], list[dict]]:
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def changelist(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m.__name__)
def test_every_admin_changelist_offers_export_selected_as_csv(rf, staff_user, model):
    request = rf.get(changelist(model))
    request.user = staff_user

    choices = admin.site._registry[model].get_action_choices(request)

    assert (ACTION, "Export selected as CSV") in choices


def test_the_action_is_in_the_changelists_action_menu(client, staff_user, shop):
    client.force_login(staff_user)

    response = client.get(changelist(Product))

    assert f'<option value="{ACTION}">Export selected as CSV</option>' in response.text


def test_staff_export_the_selected_products_with_decimal_prices(
    client, staff_user, shop, product_factory
):
    other = product_factory(title="Refactoring")
    product_factory(title="Not selected")
    client.force_login(staff_user)

    response = client.post(
        changelist(Product),
        {"action": ACTION, "_selected_action": [str(shop.product.pk), str(other.pk)]},
    )

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="products-')
    header, rows = exported(response)
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
    assert sorted(row["title"] for row in rows) == ["Clean Code", "Refactoring"]
    clean_code = next(row for row in rows if row["title"] == "Clean Code")
    assert clean_code["price"] == "32.99"
    assert clean_code["_id"] == str(shop.product.pk)
    assert clean_code["createdAt"] == "2024-01-10T08:00:00.000Z"


def test_the_users_export_from_the_admin_never_carries_a_password_hash(
    client, staff_user, shop, mongo
):
    hashes = [document["password"] for document in mongo.users.find()]
    client.force_login(staff_user)

    response = client.post(
        changelist(type(shop.alice)),
        {"action": ACTION, "_selected_action": [str(shop.alice.pk), str(staff_user.pk)]},
    )

    header, rows = exported(response)
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
    assert {row["email"]: row["isStaff"] for row in rows} == {
        "alice@example.com": "false",
        "staff@example.com": "true",
    }
    body = ",".join(",".join(row.values()) for row in rows)
    assert all(value not in body for value in hashes)


def test_other_models_export_their_stored_field_names(client, staff_user, shop):
    event = PaymentEvent.objects.create(
        event_id="evt_123", type="charge.refunded", purchase=shop.purchase
    )
    client.force_login(staff_user)

    response = client.post(
        changelist(PaymentEvent), {"action": ACTION, "_selected_action": [str(event.pk)]}
    )

    header, rows = exported(response)
    assert header == ["_id", "eventId", "type", "purchaseId", "createdAt"]
    assert rows[0]["eventId"] == "evt_123"
    assert rows[0]["purchaseId"] == str(shop.purchase.pk)


def test_customers_cannot_use_the_export(client, shop):
    client.force_login(shop.alice)

    response = client.post(
        changelist(Product), {"action": ACTION, "_selected_action": [str(shop.product.pk)]}
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_get_the_export_only_where_they_may_view(rf, user_factory):
    from django.contrib.auth.models import Permission

    clerk = user_factory(is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_product", content_type__app_label="catalog")
    )
    request = rf.get("/admin/")
    request.user = type(clerk).objects.get(pk=clerk.pk)  # fresh permission cache

    products = dict(admin.site._registry[Product].get_action_choices(request))
    events = dict(admin.site._registry[PaymentEvent].get_action_choices(request))

    assert ACTION in products
    assert ACTION not in events
