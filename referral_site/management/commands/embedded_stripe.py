"""Start or stop the embedded Stripe emulator (STRIPE_SECRET_KEY unset)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from referral_site import stripe_emulator


class Command(BaseCommand):
    help = "Manage the Stripe emulator used when STRIPE_SECRET_KEY is not set."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("start", "stop"))

    def handle(self, *args, action, **options):
        config = settings.EMBEDDED_STRIPE
        if not config:
            raise CommandError("STRIPE_SECRET_KEY is set: there is no embedded emulator to manage")
        data_dir = Path(config["DIR"])
        if action == "start":
            try:
                emulator = stripe_emulator.ensure_running(
                    data_dir,
                    port=int(config["PORT"]),
                    webhook_url=config["WEBHOOK_URL"],
                    secret=settings.STRIPE_WEBHOOK_SECRET,
                )
            except stripe_emulator.EmulatorError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"Stripe emulator running at {emulator.api_base} "
                f"(webhooks to {config['WEBHOOK_URL']})"
            )
        else:
            emulator = stripe_emulator.stop(data_dir)
            if emulator is None:
                self.stdout.write("Stripe emulator was not running")
            else:
                self.stdout.write(f"Stripe emulator (pid {emulator.pid}) stopped")
