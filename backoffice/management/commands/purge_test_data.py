"""Remove what seed_demo and the benchmark created (backoffice/demo_data.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from backoffice.demo_data import purge_test_data
from referral_site.ops import one_line


class Command(BaseCommand):
    help = (
        "Remove the demo accounts and catalog of seed_demo and the accounts, products and "
        "purchases of the benchmark, with everything that belongs to those accounts. "
        "Refuses production settings."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args, dry_run, **options):
        if settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError(
                "refusing to delete data under production settings; purge_test_data is for "
                "development and staging databases"
            )
        try:
            purge = purge_test_data(dry_run=dry_run)
        except PyMongoError as exc:
            raise CommandError(
                f"database error: {one_line(exc)}; run the command again to finish"
            ) from exc
        if options["verbosity"] < 1:
            return
        found = ", ".join(f"{count} {name}" for name, count in sorted(purge.removed.items()))
        if dry_run:
            self.stdout.write(f"purge_test_data (dry run): would remove {found or 'nothing'}")
            return
        self.stdout.write(
            f"purge_test_data: removed {found or 'nothing'}"
            + (
                f"; kept {purge.kept_products} demo products that other customers bought"
                if purge.kept_products
                else ""
            )
        )
