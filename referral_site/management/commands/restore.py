"""Restore a backup directory into the database, after checking every checksum."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from referral_site.ops import OperationError, one_line, site_database
from referral_site.ops.restore import restore_database, schema_differences


class Command(BaseCommand):
    help = (
        "Restore a directory written by `backup`. Checks the manifest and every checksum "
        "first; refuses a database that already holds documents unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument(
            "--collection",
            metavar="NAME",
            help="restore only this collection (documents and indexes); the others are "
            "left untouched. --force replaces it when it holds documents",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="drop and replace the backup's collections even though the "
            "database holds documents (others are left alone)",
        )

    def handle(self, *args, directory, force, collection, **options):
        try:
            result = restore_database(
                site_database(),
                Path(directory),
                force=force,
                show_progress=self.stderr.isatty(),
                only=collection,
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        except PyMongoError as exc:
            raise CommandError(f"database error: {one_line(exc)}") from exc
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"restore: {len(result.collections)} collections, "
                f"{result.documents} documents restored from {directory}"
                + (f" ({len(result.replaced)} replaced)" if result.replaced else "")
            )
            differences = schema_differences(result.manifest)
            if differences:
                self.stderr.write(
                    "restore: the backup's migrations differ from this code's ("
                    + "; ".join(differences)
                    + "); run `manage.py migrate` if "
                    "the backup is older"
                )
