from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from accounts import (
            checks,  # noqa: F401  (registers the system checks)
            origin,
        )

        origin.connect()
