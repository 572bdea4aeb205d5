"""Back up every collection of the database to a new directory; optionally prune old ones."""

from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from referral_site.ops import OperationError, one_line, site_database
from referral_site.ops.backup import backup_database, prune_backups
from referral_site.ops.restore import read_manifest, verify_files


class Command(BaseCommand):
    help = (
        "Write every collection (documents as canonical Extended JSON lines, options and "
        "indexes) and a manifest with counts and SHA-256 checksums to a new directory "
        "(default: a new BACKUP_DIR/<UTC time>). With --keep-days N, once the new backup "
        "is verified, remove this database's backups next to it older than N days "
        "(only directories whose manifest says this command made them)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            metavar="DIR",
            help="directory to create; it must not exist or be empty "
            "(default: BACKUP_DIR/YYYY-MM-DDTHHMMSSZ)",
        )
        parser.add_argument(
            "--keep-days",
            type=int,
            metavar="N",
            help="after a verified backup, remove the older backups (same folder, same "
            "database) made more than N days ago",
        )

    def handle(self, *args, output, keep_days, **options):
        if keep_days is not None and keep_days < 1:
            raise CommandError("--keep-days must be at least 1")
        now = datetime.now(UTC)
        if output is None:
            root = Path(settings.BACKUP_DIR)
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CommandError(f"cannot create {root}: {exc.strerror or exc}") from None
            output = str(root / now.strftime("%Y-%m-%dT%H%M%SZ"))
        try:
            result = backup_database(
                site_database(), Path(output), show_progress=self.stderr.isatty()
            )
            # Read back what was written before anything old is removed.
            manifest, collections = read_manifest(result.path)
            verify_files(collections)
            removed = (
                prune_backups(
                    keep=result.path,
                    database=manifest["database"],
                    keep_days=keep_days,
                    now=now,
                )
                if keep_days is not None
                else []
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
                f"{result.manifest['database']!r} written to {result.path} and verified"
            )
            for path in removed:
                self.stdout.write(f"backup: removed {path} (older than {keep_days} days)")
