"""Start, inspect or stop the embedded MongoDB-wire server (MONGODB_URI unset)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from referral_site import embedded


class Command(BaseCommand):
    help = "Manage the embedded MongoDB server used when MONGODB_URI is not set."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("start", "status", "stop"))

    def handle(self, *args, action, **options):
        config = settings.DATABASES["default"].get("EMBEDDED")
        if not config:
            raise CommandError("MONGODB_URI is set: there is no embedded server to manage")
        data_dir = Path(config["DATA_DIR"])
        if action == "start":
            try:
                uri = embedded.ensure_running(data_dir, port=int(config["PORT"]))
            except embedded.EmbeddedServerError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"embedded MongoDB running at {uri} (data in {data_dir})")
        elif action == "status":
            handle, answering = embedded.status(data_dir)
            if handle is None:
                self.stdout.write("embedded MongoDB is not running")
                return
            state = "running" if answering else "not answering"
            self.stdout.write(f"embedded MongoDB (pid {handle.pid}) {state} at {handle.uri}")
            if not answering:
                raise CommandError("the embedded server does not answer; run `embedded_db stop`")
        else:
            handle = embedded.stop(data_dir)
            if handle is None:
                self.stdout.write("embedded MongoDB was not running")
            else:
                self.stdout.write(f"embedded MongoDB (pid {handle.pid}) stopped")
