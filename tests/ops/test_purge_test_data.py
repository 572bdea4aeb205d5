"""purge_test_data removes what seed_demo and the benchmark made, and nothing else."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from catalog.models import Product
from purchases.models import Purchase
from tests.shopping import buy, give_credits


@pytest.mark.django_db(transaction=True)
def test_purge_removes_demo_and_benchmark_data_and_keeps_real_customers(
    mongo, user_factory, product_factory, make_purchase, capsys
):
    # given the demo data, a benchmark account with a purchase, and a real customer
    call_command("seed_demo", verbosity=0)
    demo_products = list(Product.objects.order_by("title"))
    bench_user = user_factory(name="Bench", email="user7@bench.test")
    bench_product = product_factory(title="Bench product 7", price=Decimal("12.00"))
    make_purchase(user=bench_user, product=bench_product, amount="12.00", idempotency_key="bench:7")
    customer = User.objects.get(email="customer@example.com")
    give_credits(customer, 1)
    buy(customer, demo_products[1])
    real = user_factory(name="Real Customer", email="real@example.org")
    real_purchase = buy(real, demo_products[0])
    files_before = mongo["fs.files"].count_documents({})

    # a dry run changes nothing
    call_command("purge_test_data", "--dry-run")
    assert "would remove" in capsys.readouterr().out
    assert User.objects.filter(email="customer@example.com").exists()

    # when
    call_command("purge_test_data")

    # then the test accounts and everything of theirs are gone
    out = capsys.readouterr().out
    assert "kept 1 demo products that other customers bought" in out
    emails = set(User.objects.values_list("email", flat=True))
    assert emails == {"real@example.org"}
    assert mongo["creditTransactions"].count_documents({"userId": customer.pk}) == 0
    assert mongo["purchases"].count_documents({"userId": {"$ne": real.pk}}) == 0
    # the product a real customer bought stays with its files; the others went
    assert list(Product.objects.values_list("pk", flat=True)) == [demo_products[0].pk]
    assert Purchase.objects.filter(pk=real_purchase.pk).exists()
    assert mongo["fs.files"].count_documents({}) == 2 < files_before
    # and running it again finds nothing more
    call_command("purge_test_data")
    assert "removed nothing" in capsys.readouterr().out


def test_purge_refuses_production_settings(db, settings):
    settings.SETTINGS_MODULE = "referral_site.settings.production"

    with pytest.raises(CommandError, match="refusing to delete data under production settings"):
        call_command("purge_test_data")
