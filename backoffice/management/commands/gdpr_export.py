"""Write everything held about one user as JSON (GDPR data export)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backoffice.gdpr import (
    UserNotFound,
    add_user_arguments,
    export_to_json,
    user_data_export,
    user_get_for_gdpr,
)
from referral_site.ops import OperationError
from referral_site.ops.files import atomic_text_file


class Command(BaseCommand):
    help = (
        "Write everything held about one user (account, referrals, purchases, credit "
        "ledger, admin log) as JSON to stdout or --output FILE. No password hash."
    )

    def add_arguments(self, parser):
        add_user_arguments(
            parser, id_help="the user's id (24 hex digits), e.g. of an erased account"
        )
        parser.add_argument(
            "--output",
            "-o",
            type=Path,
            metavar="FILE",
            help="write here (atomically, mode 0600) instead of stdout",
        )

    def handle(self, *args, email, user_id, output, **options):
        try:
            user = user_get_for_gdpr(email=email, user_id=user_id)
        except UserNotFound as exc:
            raise CommandError(exc.message) from None
        text = export_to_json(user_data_export(user_id=user.pk))
        if output is None:
            self.stdout.write(text, ending="")
            return
        output = Path(output)  # call_command(output="...") skips argparse's type
        try:
            # Complete or not at all; the temporary file is created mode 0600
            # (it holds personal data) and keeps that mode after the rename.
            with atomic_text_file(output) as handle:
                handle.write(text)
        except OperationError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
        if options["verbosity"] >= 1:
            self.stdout.write(f"exported user {user.pk} to {output}")
