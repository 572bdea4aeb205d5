"""Report and repair drift between purchases, referrals, the ledger and the caches."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from credits.reconcile import balances_reconcile
from purchases.reconcile import purchases_reconcile
from purchases.selectors import purchase_first_id_for_user
from referral_site.repair import RepairRun
from referrals.reconcile import awards_reconcile, reversals_reconcile, signups_reconcile


def reconcile(*, fix: bool, quiet_seconds: int) -> RepairRun:
    """Each app's own repair, in the order that lets the later ones see the earlier fixes."""
    run = RepairRun(fix=fix, cutoff=timezone.now() - timedelta(seconds=quiet_seconds))
    signups_reconcile(run)  # referrals lost between the two sign-up inserts
    purchases_reconcile(run)  # interrupted purchases, credits owed, rewards a purchase owes
    awards_reconcile(run, purchase_id_for=purchase_first_id_for_user)
    reversals_reconcile(run)  # rewards a refund should have taken back
    balances_reconcile(run)  # last: the caches after every ledger entry above
    return run


class Command(BaseCommand):
    help = (
        "Finish or roll back interrupted purchases, award missing referral credits and "
        "take back rewards of refunded referrals and bring users.credits, heldCredits and "
        "totalCreditsEarned back to the ledger's sums."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="change nothing; exit 1 when anything needs repair"
        )
        parser.add_argument(
            "--quiet-seconds",
            type=int,
            default=None,
            metavar="N",
            help="leave purchases and users that changed in the last N seconds "
            "alone (default: CHECKOUT_LEASE_SECONDS)",
        )

    def handle(self, *args, check, quiet_seconds, **options):
        if quiet_seconds is None:
            quiet_seconds = settings.CHECKOUT_LEASE_SECONDS
        if quiet_seconds < 0:
            raise CommandError("--quiet-seconds cannot be negative")
        run = reconcile(fix=not check, quiet_seconds=quiet_seconds)
        verbose = options["verbosity"] >= 1
        if verbose:
            for line in run.lines():
                self.stdout.write(line)
        if check:
            if run.problems:
                raise CommandError(
                    f"drift found: {run.problems} item(s) need repair; "
                    f"run reconcile_credits without --check"
                )
            if verbose:
                self.stdout.write("no drift")
            return
        if verbose:
            self.stdout.write(f"repaired {run.problems - run.unfixed} item(s)")
        if run.unfixed:
            raise CommandError(
                f"{run.unfixed} item(s) could not be repaired now (a balance changed while "
                f"reconciling, a negative ledger sum, or the payment provider did not answer); "
                f"run reconcile_credits again"
            )
