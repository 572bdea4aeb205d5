"""Report and repair drift between purchases, referrals, the ledger and the caches."""

from django.core.management.base import BaseCommand, CommandError

from credits.reconcile import reconcile


class Command(BaseCommand):
    help = ("Finish or roll back interrupted purchases, award missing referral credits and "
            "bring users.credits/totalCreditsEarned back to the ledger's sums.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="change nothing; exit 1 when anything needs repair")
        parser.add_argument("--quiet-seconds", type=int, default=None, metavar="N",
                            help="leave purchases and users that changed in the last N seconds "
                                 "alone (default: CHECKOUT_LEASE_SECONDS)")

    def handle(self, *args, check, quiet_seconds, **options):
        if quiet_seconds is not None and quiet_seconds < 0:
            raise CommandError("--quiet-seconds cannot be negative")
        report = reconcile(fix=not check, quiet_seconds=quiet_seconds)
        verbose = options["verbosity"] >= 1
        if verbose:
            for line in report.lines():
                self.stdout.write(line)
        if check:
            if report.problems:
                raise CommandError(f"drift found: {report.problems} item(s) need repair; "
                                   f"run reconcile_credits without --check")
            if verbose:
                self.stdout.write("no drift")
            return
        unfixed = [d for d in report.balances if not d.fixed]
        if verbose:
            self.stdout.write(f"repaired {report.problems - len(unfixed)} item(s)")
        if unfixed:
            raise CommandError(f"{len(unfixed)} balance(s) changed while reconciling or have a "
                               f"negative ledger sum; run reconcile_credits again")
