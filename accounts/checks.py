"""Start-up checks: the optional Clerk sign-in settings, the rate limits behind a proxy."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def clerk_settings_check(app_configs, **kwargs):
    from accounts import clerk

    wanted = (
        settings.CLERK_PUBLISHABLE_KEY
        or settings.CLERK_SECRET_KEY
        or settings.CLERK_JWT_KEY
        or settings.CLERK_FRONTEND_API
    )
    if not wanted:
        return []
    problems = []
    if not clerk.frontend_api_url():
        problems.append(
            Error(
                "CLERK_PUBLISHABLE_KEY does not name a Clerk instance; Clerk sign-in is off.",
                hint="Paste the publishable key (pk_test_... or pk_live_...) from the Clerk "
                "dashboard, or set CLERK_FRONTEND_API.",
                id="accounts.E002",
            )
        )
    if not settings.CLERK_AUTHORIZED_PARTIES:
        problems.append(
            Warning(
                "Clerk is set up but CLERK_AUTHORIZED_PARTIES is empty; Clerk sign-in is off.",
                hint="Set CLERK_AUTHORIZED_PARTIES to the site's origins, comma-separated.",
                id="accounts.W001",
            )
        )
    if not settings.CLERK_SECRET_KEY and not settings.CLERK_JWT_KEY:
        problems.append(
            Warning(
                "Neither CLERK_SECRET_KEY nor CLERK_JWT_KEY is set; Clerk sign-in is off.",
                hint="Set CLERK_SECRET_KEY (keys from the JWKS, session checks, sign-out).",
                id="accounts.W003",
            )
        )
    elif not settings.CLERK_SECRET_KEY:
        problems.append(
            Warning(
                "CLERK_SECRET_KEY is not set: Clerk sessions cannot be checked or revoked, "
                "sign-ups cannot be linked by e-mail, and erasures cannot delete Clerk users.",
                hint="Set CLERK_SECRET_KEY; CLERK_JWT_KEY alone only verifies tokens.",
                id="accounts.W004",
            )
        )
    if settings.CLERK_JWT_KEY:
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
