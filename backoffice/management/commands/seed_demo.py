"""Load the demo catalog and the demo accounts. Running it again adds nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import user_create
from backoffice.demo_data import (
    DEMO_CUSTOMER_EMAIL,
    DEMO_CUSTOMER_PASSWORD,
    DEMO_STAFF_EMAIL,
    DEMO_STAFF_PASSWORD,
)
from catalog.demo import demo_cover, demo_file, demo_products
from catalog.models import Product
from catalog.services import product_cover_attach, product_file_attach


class Command(BaseCommand):
    help = "Load the demo catalog and the demo staff and customer accounts (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even with production settings (creates a staff account "
            "with a published password)",
        )

    def handle(self, *args, **options):
        if settings.SETTINGS_MODULE.endswith(".production") and not options["allow_production"]:
            raise CommandError(
                "refusing to create demo accounts with published passwords under "
                "production settings (use --allow-production to insist)"
            )
        wanted = demo_products()
        existing = set(
            Product.objects.filter(title__in=[p["title"] for p in wanted]).values_list(
                "title", flat=True
            )
        )
        missing = [Product(**p) for p in wanted if p["title"] not in existing]
        for product in missing:
            product.full_clean()
        Product.objects.bulk_create(missing)
        # Every demo product gets a cover and a small file to download.
        furnished = 0
        for product in Product.objects.filter(title__in=[p["title"] for p in wanted]):
            if not product.cover:
                product_cover_attach(product=product, upload=demo_cover(product))
                furnished += 1
            if not product.file:
                product_file_attach(product=product, upload=demo_file(product))

        made_users = 0
        for email, password, name, staff in (
            (DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, "Demo Staff", True),
            (DEMO_CUSTOMER_EMAIL, DEMO_CUSTOMER_PASSWORD, "Demo Customer", False),
        ):
            if not User.objects.filter(email=email).exists():
                user_create(
                    email=email, password=password, name=name, is_staff=staff, is_superuser=staff
                )
                made_users += 1
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"seed_demo: {len(missing)} products, {furnished} covers and {made_users} users "
                f"added "
                f"({len(wanted)} demo products in all; credit value {settings.CREDIT_VALUE})"
            )
