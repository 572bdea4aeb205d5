"""Production: everything that matters comes from the environment, nothing defaults.

Required: SECRET_KEY, ALLOWED_HOSTS, MONGODB_URI, STRIPE_SECRET_KEY,
STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET (live keys unless
STRIPE_ALLOW_TEST_KEYS is set, for a staging site). `manage.py check --deploy`
reports nothing with them set (tests/ops/test_production_settings.py).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, MONGODB_URI, env, mailers


def _required(name: str) -> str:
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production (see README, Deploying)")
    return value


DEBUG = False
SECRET_KEY = _required("SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in _required("ALLOWED_HOSTS").split(",") if host.strip()]
if not MONGODB_URI:
    raise ImproperlyConfigured("MONGODB_URI must be set in production (see README, Deploying)")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Real payments only: without the keys the site would fall back to the
# development emulator; test-mode keys take no real money.
STRIPE_SECRET_KEY = _required("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = _required("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = _required("STRIPE_WEBHOOK_SECRET")
EMBEDDED_STRIPE = None
if not env.bool("STRIPE_ALLOW_TEST_KEYS", default=False) and (
    STRIPE_SECRET_KEY.startswith("sk_test_") or STRIPE_PUBLISHABLE_KEY.startswith("pk_test_")
):
    raise ImproperlyConfigured(
        "Stripe test-mode keys in production; use live keys, or set STRIPE_ALLOW_TEST_KEYS=true "
        "for a staging site"
    )

# HTTPS only, behind a proxy that terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

MAILERS = mailers("django.core.mail.backends.smtp.EmailBackend")

# Static files: collected, hashed names, compressed, served by whitenoise.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGGING = {
    **LOGGING,
    "formatters": {"json": {"()": "referral_site.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
}
