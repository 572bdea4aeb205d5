"""Back up every collection of the database to a new directory."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from referral_site.ops import OperationError, one_line, site_database
from referral_site.ops.backup import backup_database


class Command(BaseCommand):
    help = (
        "Write every collection (documents as canonical Extended JSON lines, options and "
        "indexes) and a manifest with counts and SHA-256 checksums to a new directory."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            required=True,
            metavar="DIR",
            help="directory to create; it must not exist or be empty",
        )

    def handle(self, *args, output, **options):
        try:
            result = backup_database(
                site_database(), Path(output), show_progress=self.stderr.isatty()
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:  # a full disk, a folder that cannot be written
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
        except PyMongoError as exc:
            raise CommandError(f"database error: {one_line(exc)}; nothing was written") from exc
        for name in result.skipped:
            self.stderr.write(f"backup: skipped {name}: not a collection (a view?)")
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"backup: {len(result.manifest['collections'])} collections, "
                f"{result.documents} documents of database "
                f"{result.manifest['database']!r} written to {result.path}"
            )
