"""Every index of the application's collections: use, size, why it is needed; gaps."""

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from backoffice.query_shapes import capture_pages
from referral_site.ops import one_line, site_database
from referral_site.ops.indexes import IndexInfo, index_report
from referral_site.ops.queryplans import (
    explain,
    explain_supported,
    index_names_used,
    is_embedded_server,
    plan_offenders,
    server_name,
    shape_text,
)

PAGE_SIZE = 20


def _key_text(info_key) -> str:
    return "{" + ", ".join(f"{field}: {direction}" for field, direction in info_key) + "}"


def _size_text(size: int | None) -> str:
    if size is None:
        return "size ?"
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} B"


def _usage_text(info: IndexInfo) -> str:
    if info.ops is None:
        return "ops ?"
    since = f" since {info.since:%Y-%m-%d %H:%M}" if info.since else ""
    return f"ops {info.ops}{since}"


class Command(BaseCommand):
    help = (
        "List every index of every collection the application owns with its use since the "
        "server started ($indexStats), its size and why it is needed (declared by a model, "
        "enforcing uniqueness or expiry, used by a page's query); list unused indexes, "
        "declared indexes the server lacks and page queries no index serves (explain). "
        "--check exits 1 when a needed index is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="exit 1 when a needed index is missing"
        )

    def handle(self, *args, check, **options):
        try:
            pages = capture_pages()
            db = site_database()
            embedded = is_embedded_server(db)
            can_explain = explain_supported(db, "products")
            used_by: dict[tuple[str, str], list[str]] = {}
            unserved: list[str] = []
            if can_explain:
                for result in pages:
                    for command in result.reads:
                        answer = explain(db, command)
                        where = f"page {result.page.name}: {shape_text(command)}"
                        for name in index_names_used(answer):
                            used_by.setdefault((command.collection, name), []).append(where)
                        for offence in plan_offenders(answer, page_size=PAGE_SIZE):
                            unserved.append(f"{where}: {offence.stage} ({offence.detail})")
            report = index_report(db, usage_known=not embedded, used_by=used_by)
            server = server_name(db)
        except PyMongoError as exc:
            raise CommandError(f"database error: {one_line(exc)}") from exc

        write = self.stdout.write
        write(f"index_report: {server}, database {db.name!r}")
        current = None
        for info in report.indexes:
            if info.collection != current:
                current = info.collection
                write(current)
            reasons = ([info.enforces] if info.enforces else []) + info.needed_by
            write(
                f"  {info.name} {_key_text(info.key)}  {_usage_text(info)}  "
                f"{_size_text(info.size_bytes)}  needed: {'; '.join(reasons) or 'no'}"
            )

        unused = [i for i in report.indexes if i.unused]
        write(f"unused indexes ({len(unused)}):" if report.usage_known else "unused indexes: ?")
        for info in unused:
            write(
                f"  {info.collection}.{info.name} {_key_text(info.key)}: "
                f"no use counted, enforces nothing"
            )
        redundant = [i for i in report.indexes if i.prefix_of]
        write(f"indexes another one covers ({len(redundant)}):")
        for info in redundant:
            write(
                f"  {info.collection}.{info.name} {_key_text(info.key)} is a prefix of "
                f"{info.prefix_of}: it may go if nothing needs it alone"
            )
        write(f"missing indexes ({len(report.missing)}):")
        for declared in report.missing:
            write(f"  {declared.collection} {_key_text(declared.key)} ({declared.reason})")
        if can_explain:
            write(f"page queries no index serves ({len(unserved)}):")
            for line in unserved:
                write(f"  {line}")
        unknown = []
        if not report.usage_known:
            unknown.append("index use ($indexStats counts nothing there)")
        if not report.sizes_known:
            unknown.append("index sizes (collStats gives no indexSizes)")
        if not can_explain:
            unknown.append("which queries no index serves (explain gives no query plans)")
        if unknown:
            write(
                f"index_report: {server} cannot tell "
                + "; ".join(unknown)
                + ". Run it against a real MongoDB for those "
                "(MONGODB_URI=... manage.py index_report)."
            )
        if check and report.missing:
            raise CommandError(
                f"{len(report.missing)} needed indexes are missing; "
                f"`manage.py migrate` creates them"
            )
