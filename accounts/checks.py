"""Start-up checks: the optional Clerk sign-in settings, the rate limits behind a proxy."""

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


@register(deploy=True)
def trusted_proxy_check(app_configs, **kwargs):
    """Behind a proxy with TRUSTED_PROXY_COUNT 0, every visitor has the proxy's address:
    the whole site would share one visitor's sign-in attempts."""
    if settings.TRUSTED_PROXY_COUNT or not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return []
    return [
        Warning(
            "TRUSTED_PROXY_COUNT is 0 behind a reverse proxy: rate limits would count every "
            "visitor as the proxy.",
            hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append to "
            "X-Forwarded-For (usually 1).",
            id="accounts.W002",
        )
    ]
