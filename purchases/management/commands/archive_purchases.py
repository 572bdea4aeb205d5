"""Move purchases older than a date into purchasesArchive (purchases/archive.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from pymongo.errors import PyMongoError

from purchases.archive import BATCH_SIZE, purchases_archive, purchases_archive_pending
from referral_site.ops import OperationError, one_line
from referral_site.ops.csv_export import parse_since
from referral_site.ops.progress import Progress


class Command(BaseCommand):
    help = (
        "Move completed, failed and refunded purchases created before DATE into "
        "purchasesArchive, in batches; each copy is verified before the original is deleted, "
        "so an interrupted run is finished by running it again (with the same DATE). A "
        "buyer's first purchase always stays (the one first purchase per buyer). History, "
        "receipts, the "
        "library, analytics, exports and the GDPR export read both collections."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--before",
            required=True,
            metavar="DATE",
            help="YYYY-MM-DD or an ISO 8601 datetime (UTC unless it says otherwise)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"default {BATCH_SIZE}"
        )

    def handle(self, *args, before, dry_run, batch_size, **options):
        try:
            moment = parse_since(before)
        except OperationError:
            raise CommandError(
                f"--before {before!r} is not a date: use YYYY-MM-DD or an ISO 8601 datetime"
            ) from None
        if moment > timezone.now():
            raise CommandError("--before is in the future; nothing that new can be archived")
        if not 1 <= batch_size <= BATCH_SIZE:
            raise CommandError(f"--batch-size must be between 1 and {BATCH_SIZE}")
        try:
            with Progress(enabled=self.stderr.isatty()) as bars:
                result = purchases_archive(
                    before=moment,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    on_batch=bars.task("purchases"),
                )
                pending = purchases_archive_pending() if dry_run else 0
        except PyMongoError as exc:
            raise CommandError(
                f"database error: {one_line(exc)}; run the command again to finish"
            ) from exc
        if options["verbosity"] < 1:
            return
        when = moment.isoformat().replace("+00:00", "Z")
        if dry_run:
            self.stdout.write(
                f"archive_purchases (dry run): {result.moved} purchases before {when} would "
                f"move, {result.kept} first purchases stay"
                + (f", {pending} copies of an interrupted run to finish" if pending else "")
            )
            return
        self.stdout.write(
            f"archive_purchases: {result.moved} purchases before {when} moved to "
            f"purchasesArchive, {result.kept} first purchases kept"
            + (f", {len(result.resumed)} resumed from an interrupted run" if result.resumed else "")
            + (
                f", {result.changed_meanwhile} changed meanwhile and left for the next run"
                if result.changed_meanwhile
                else ""
            )
        )
