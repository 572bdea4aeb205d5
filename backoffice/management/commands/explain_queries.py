"""Explain every query of every benchmarked page; report collection scans and big sorts."""

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from backoffice.query_shapes import capture_pages
from referral_site.ops import one_line, site_database
from referral_site.ops.queryplans import (
    explain,
    explain_supported,
    plan_offenders,
    server_name,
    shape_text,
)

PAGE_SIZE = 20  # documents on a page: a sort of at most this many is fine in memory


class Command(BaseCommand):
    help = (
        "Request each benchmarked page in-process (GET only; nothing is written), explain "
        "every read it sends, and report collection scans (COLLSCAN) and in-memory sorts "
        "of more than a page of documents. Exit 1 when there are any. On a server "
        "without query plans (the embedded stand-in) it lists the queries, says it "
        "cannot judge, and exits 0."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--execution-stats",
            action="store_true",
            help="explain with executionStats (runs each read, read-only) so that "
            "in-memory sorts are judged by their real input size",
        )

    def handle(self, *args, execution_stats, **options):
        try:
            pages = capture_pages()  # first: it may replace the client (new listeners)
            db = site_database()
            supported = explain_supported(db, "products")
            server = server_name(db)
        except PyMongoError as exc:
            raise CommandError(f"database error: {one_line(exc)}") from exc

        offenders = 0
        for result in pages:
            page = result.page
            self.stdout.write(
                f"{page.name} GET {page.path} -> {result.status}: "
                f"{len(result.reads)} reads, {len(result.writes)} writes"
            )
            for command in result.writes:
                self.stdout.write(f"  write (not explained): {shape_text(command)}")
            for command in result.reads:
                line = f"  {shape_text(command)}"
                if not supported:
                    self.stdout.write(line)
                    continue
                try:
                    answer = explain(
                        db, command, "executionStats" if execution_stats else "queryPlanner"
                    )
                except PyMongoError as exc:
                    self.stdout.write(f"{line}\n    cannot explain: {one_line(exc)}")
                    continue
                found = plan_offenders(answer, page_size=PAGE_SIZE)
                if not found:
                    self.stdout.write(f"{line}: ok")
                    continue
                offenders += 1
                for offence in found:
                    self.stdout.write(
                        f"{line}\n    {offence.stage} on page {page.name}, collection "
                        f"{command.collection}: {offence.detail}"
                    )
        if not supported:
            self.stdout.write(
                f"explain_queries: {server} gives no query plans, so it cannot judge index "
                f"use here; run it against a real MongoDB (MONGODB_URI=... manage.py "
                f"explain_queries)."
            )
            return
        self.stdout.write(
            f"explain_queries: {server}, {sum(len(p.reads) for p in pages)} reads on "
            f"{len(pages)} pages, {offenders} without an index"
        )
        if offenders:
            raise CommandError(f"{offenders} queries use a collection scan or a large sort")
