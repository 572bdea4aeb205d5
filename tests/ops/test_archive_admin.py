"""Staff can look up archived purchases in the admin, and change nothing there."""

from django.core.management import call_command
from django.utils import timezone


def test_staff_see_archived_purchases_read_only(
    client, staff_user, user, product_factory, make_purchase, mongo
):
    purchase = make_purchase(user=user, product=product_factory(title="Old Book"), amount="8.00")
    long_ago = timezone.now().replace(year=2023)
    mongo["purchases"].update_one({"_id": purchase.pk}, {"$set": {"createdAt": long_ago}})
    call_command("archive_purchases", "--before", "2024-01-01", verbosity=0)
    client.force_login(staff_user)

    listing = client.get("/admin/purchases/archivedpurchase/")
    page = client.get(f"/admin/purchases/archivedpurchase/{purchase.pk}/change/")
    delete = client.post(
        f"/admin/purchases/archivedpurchase/{purchase.pk}/delete/", {"post": "yes"}
    )

    assert listing.status_code == 200 and "Old Book" in listing.content.decode()
    assert page.status_code == 200
    assert delete.status_code == 403
    assert mongo["purchasesArchive"].count_documents({"_id": purchase.pk}) == 1
