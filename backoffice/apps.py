from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """What spans every app: GDPR, the staff activity page, demo data, reconciliation."""

    name = "backoffice"
