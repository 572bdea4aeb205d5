"""Start-up checks for the optional Clerk sign-in settings."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def clerk_settings_check(app_configs, **kwargs):
    from accounts import clerk

    if not settings.CLERK_JWT_KEY:
        return []
    problems = []
    if not settings.CLERK_AUTHORIZED_PARTIES:
        problems.append(
            Warning(
                "CLERK_JWT_KEY is set but CLERK_AUTHORIZED_PARTIES is empty; Clerk sign-in is off.",
                hint="Set CLERK_AUTHORIZED_PARTIES to the site's origins, comma-separated.",
                id="accounts.W001",
            )
        )
    try:
        clerk._public_key(settings.CLERK_JWT_KEY)
    except (ValueError, TypeError):
        problems.append(
            Error(
                "CLERK_JWT_KEY is not a PEM public key.",
                hint="Paste the instance's PEM public key from the Clerk dashboard.",
                id="accounts.E001",
            )
        )
    return problems
