"""Write one collection as CSV, to stdout or to a file, in constant memory."""

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from referral_site.ops import OperationError, one_line, site_database
from referral_site.ops.csv_export import COLLECTIONS, export_collection, parse_since, since_filter
from referral_site.ops.files import atomic_text_file
from referral_site.ops.progress import Progress


class _Stdout:
    """csv.writer's file for the command's stdout, with no line ending added."""

    def __init__(self, wrapper):
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")


class Command(BaseCommand):
    help = (
        "Export a collection as CSV with a header row: money as plain decimals, times as "
        "UTC ISO 8601, ObjectIds as hex. Users never include the password hash."
    )

    def add_arguments(self, parser):
        parser.add_argument("--collection", required=True, choices=COLLECTIONS)
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="only documents with createdAt >= DATE (YYYY-MM-DD, or an ISO "
            "8601 datetime; UTC unless it carries an offset)",
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="write to FILE, replacing it only once the export is complete (default: stdout)",
        )

    def handle(self, *args, collection, since, output, **options):
        try:
            since_moment = parse_since(since) if since is not None else None
            db = site_database()
            show_progress = self.stderr.isatty()
            with Progress(enabled=show_progress) as bars:
                total = (
                    db[collection].count_documents(since_filter(since_moment))
                    if show_progress
                    else None
                )
                advance = bars.task(collection, total)
                if output:
                    with atomic_text_file(Path(output)) as out:
                        export_collection(
                            db, collection=collection, out=out, since=since_moment, on_row=advance
                        )
                else:
                    self._to_stdout(db, collection, since_moment, advance)
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:  # a full disk, a folder that cannot be written
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
        except PyMongoError as exc:
            raise CommandError(f"database error: {one_line(exc)}") from exc

    def _to_stdout(self, db, collection, since, advance):
        try:
            export_collection(
                db, collection=collection, out=_Stdout(self.stdout), since=since, on_row=advance
            )
            self.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            # Point stdout at /dev/null so the interpreter's last flush is silent.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(1) from None
