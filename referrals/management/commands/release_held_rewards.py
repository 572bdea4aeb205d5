"""Make held referral rewards spendable once their date has come (REFERRAL_HOLD_DAYS).

For cron: safe to run as often as you like and concurrently; each hold ends
once (a ledger entry under a unique key), whoever runs first.
"""

from django.core.management.base import BaseCommand

from referrals.conversion import referral_release_due


class Command(BaseCommand):
    help = "Release referral rewards whose hold has ended (safe to run often and concurrently)."

    def handle(self, *args, **options):
        released = referral_release_due()
        self.stdout.write(f"Released the rewards of {released} referral(s).")
