"""Settings shared by every environment; values come from the environment.

Every variable read here is listed, with its default, in the README.
"""

from decimal import Decimal
from pathlib import Path

import environ
from pymongo.uri_parser import parse_uri

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "referral_site.mongo_apps.MongoAdminConfig",
    "referral_site.mongo_apps.MongoAuthConfig",
    "referral_site.mongo_apps.MongoContentTypesConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_mongodb_backend",
    "django_htmx",
    "referral_site",
    # Bottom to top (ARCHITECTURE.md section 7); backoffice extends the
    # accounts and catalog admins, so it comes after them.
    "accounts",
    "catalog",
    "credits",
    "referrals",
    "purchases",
    "backoffice",
]

MIDDLEWARE = [
    # First: it times and counts every response, redirects and errors included.
    "referral_site.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.origin.BrowserIdMiddleware",
    "referrals.middleware.ClerkSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "referral_site.errors.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "referral_site.urls"
WSGI_APPLICATION = "referral_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "referrals.context_processors.programme",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# MONGODB_URI set: that MongoDB (>= 7.0). Unset: the embedded MongoDB-wire
# server (referral_site/embedded.py), started on first connection, data in var/.
MONGODB_URI = env("MONGODB_URI", default="")
MONGODB_NAME = env("MONGODB_NAME", default="") or (
    (parse_uri(MONGODB_URI).get("database") if MONGODB_URI else None) or "referral_store"
)
DATABASES = {
    "default": {
        "ENGINE": "referral_site.db",
        "HOST": MONGODB_URI,
        "NAME": MONGODB_NAME,
        "OPTIONS": {
            # Fail fast when the database is unreachable, so pages can answer
            # 503 quickly instead of hanging for pymongo's 30 s default.
            "serverSelectionTimeoutMS": env.int("MONGODB_TIMEOUT_MS", default=3000),
        },
    }
}
if not MONGODB_URI:
    DATABASES["default"]["EMBEDDED"] = {
        "DATA_DIR": str(env.path("EMBEDDED_MONGODB_DIR", default=str(VAR_DIR / "mongo"))),
        "PORT": env.int("EMBEDDED_MONGODB_PORT", default=27117),
    }

DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
MIGRATION_MODULES = {
    "admin": "referral_site.mongo_migrations.admin",
    "auth": "referral_site.mongo_migrations.auth",
    "contenttypes": "referral_site.mongo_migrations.contenttypes",
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {
        # The user's own name and address make poor passwords ("Reset Me" / "Reset Me").
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("name", "email")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_ENGINE = "referral_site.sessions"

LANGUAGE_CODE = "en-us"
# UTC always: the stand-in's $dateTrunc has no time-zone support (gap 4), and
# stored times are UTC anyway; templates show local time.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"


def mailers(default_backend: str) -> dict:
    """MAILERS from EMAIL_BACKEND (and EMAIL_HOST etc. for the SMTP backend)."""
    backend = env("EMAIL_BACKEND", default=default_backend)
    options = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": env("EMAIL_HOST", default="localhost"),
            "port": env.int("EMAIL_PORT", default=587),
            "username": env("EMAIL_HOST_USER", default=""),
            "password": env("EMAIL_HOST_PASSWORD", default=""),
            "use_tls": env.bool("EMAIL_USE_TLS", default=True),
        }
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


MAILERS = mailers("django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shop@localhost")

# --- Business rules (ARCHITECTURE.md section 5) ----------------------------
CREDIT_VALUE = Decimal(env("CREDIT_VALUE", default="10.00"))
REFERRAL_REWARD_REFERRER = env.int("REFERRAL_REWARD_REFERRER", default=2)
REFERRAL_REWARD_REFERRED = env.int("REFERRAL_REWARD_REFERRED", default=2)
# A referral converts only on a first purchase whose card part is at least this (USD).
REFERRAL_MIN_QUALIFYING_AMOUNT = Decimal(env("REFERRAL_MIN_QUALIFYING_AMOUNT", default="5.00"))
# Rewarded conversions per referrer per calendar month; unset: unlimited.
REFERRAL_MONTHLY_CAP = env.int("REFERRAL_MONTHLY_CAP", default=None)
# Days a conversion's rewards are held before they can be spent (the refund
# window); 0 credits them at once. 14 is recommended in production.
REFERRAL_HOLD_DAYS = env.int("REFERRAL_HOLD_DAYS", default=0)
# A refund of the qualifying purchase this many days after the conversion
# still takes both rewards back.
REFERRAL_CLAWBACK_DAYS = env.int("REFERRAL_CLAWBACK_DAYS", default=30)
# A referrer's conversions in 24 hours from which a new one waits for review; unset: off.
REFERRAL_VELOCITY_LIMIT = env.int("REFERRAL_VELOCITY_LIMIT", default=10)
# How recently the referrer must have used an IP address or browser for a
# sign-up from the same one to be flagged for review.
REFERRAL_SIGNAL_WINDOW_DAYS = env.int("REFERRAL_SIGNAL_WINDOW_DAYS", default=30)
# The key of the hashes kept of IP addresses (never stored in clear);
# defaults to one derived from SECRET_KEY.
SIGNAL_HASH_KEY = env("SIGNAL_HASH_KEY", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Accounts and referral capture ---------------------------------------
# Where a new account lands after sign-up (a safe ?next= wins).
SIGNUP_REDIRECT_URL = env("SIGNUP_REDIRECT_URL", default="/dashboard/")
# How long a referral link's code is remembered in its signed cookie.
REFERRAL_COOKIE_MAX_AGE = env.int("REFERRAL_COOKIE_DAYS", default=30) * 24 * 60 * 60
# Sign-in + sign-up attempts per IP address and per account, and password reset
# requests likewise, per window (seconds). 0 turns the limit off.
AUTH_RATE_LIMIT = env.int("AUTH_RATE_LIMIT", default=10)
AUTH_RATE_WINDOW_SECONDS = env.int("AUTH_RATE_WINDOW_SECONDS", default=900)
# Reverse proxies in front of the app that append to X-Forwarded-For; 0 means
# the client address is REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Clerk sign-in (accounts/clerk.py), on with the publishable key, the secret
# key (or the networkless CLERK_JWT_KEY) and the allowed azp origins.
CLERK_PUBLISHABLE_KEY = env("CLERK_PUBLISHABLE_KEY", default="")
CLERK_SECRET_KEY = env("CLERK_SECRET_KEY", default="")
# The Frontend API (tokens' iss, ClerkJS's origin); by default the host the
# publishable key encodes. Set it only for a proxied or satellite domain.
CLERK_FRONTEND_API = env("CLERK_FRONTEND_API", default="")
CLERK_API_URL = env("CLERK_API_URL", default="https://api.clerk.com")
CLERK_JWT_KEY = env("CLERK_JWT_KEY", default="")
CLERK_AUTHORIZED_PARTIES = env.list("CLERK_AUTHORIZED_PARTIES", default=[])
CLERK_LEEWAY_SECONDS = env.int("CLERK_LEEWAY_SECONDS", default=5)
# Public keys from GET /v1/jwks are kept this long per process; an unknown kid
# (a rotated key) refetches them, at most once per CLERK_JWKS_REFETCH_SECONDS.
CLERK_JWKS_CACHE_SECONDS = env.int("CLERK_JWKS_CACHE_SECONDS", default=3600)
CLERK_JWKS_REFETCH_SECONDS = env.int("CLERK_JWKS_REFETCH_SECONDS", default=30)
# A Django session made from a Clerk session asks Clerk whether it is still
# active at most this often (GET /v1/sessions/{id}); webhooks end it sooner.
CLERK_SESSION_CHECK_SECONDS = env.int("CLERK_SESSION_CHECK_SECONDS", default=300)
CLERK_WEBHOOK_SECRET = env("CLERK_WEBHOOK_SECRET", default="")
# ClerkJS, loaded by the Clerk sign-in and sign-up pages only: by default the
# instance's Frontend API serves @clerk/clerk-js at this major version.
CLERK_JS_VERSION = env("CLERK_JS_VERSION", default="6")
CLERK_JS_URL = env("CLERK_JS_URL", default="")

# --- Checkout and payments -----------------------------------------------
# Stripe. With STRIPE_SECRET_KEY set, the site talks to STRIPE_API_BASE
# (Stripe itself by default). Unset (development, tests), it talks to the
# embedded emulator (referral_site/stripe_emulator.py), started on first use;
# production refuses to start without the keys.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
# Frames Stripe.js opens besides its own origin (3-D Secure), for the checkout's CSP.
STRIPE_FRAME_HOSTS = env.list("STRIPE_FRAME_HOSTS", default=["https://hooks.stripe.com"])
EMBEDDED_STRIPE = None
if not STRIPE_SECRET_KEY:
    _emulator_port = env.int("EMBEDDED_STRIPE_PORT", default=8421)
    STRIPE_SECRET_KEY = "sk_test_embedded"  # noqa: S105 - the emulator's, not a secret
    STRIPE_PUBLISHABLE_KEY = "pk_test_embedded"
    STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET or "whsec_embedded"  # noqa: S105
    STRIPE_API_BASE = f"http://127.0.0.1:{_emulator_port}"
    STRIPE_JS_URL = f"{STRIPE_API_BASE}/js.stripe.com/v3/"
    STRIPE_FRAME_HOSTS = []  # the emulator's 3-D Secure is a plain element, no frame
    EMBEDDED_STRIPE = {
        "PORT": _emulator_port,
        "DIR": str(VAR_DIR / "stripe"),
        # Where the emulator delivers its webhooks: the development server.
        "WEBHOOK_URL": env(
            "EMBEDDED_STRIPE_WEBHOOK_URL", default="http://127.0.0.1:8000/webhooks/stripe/"
        ),
    }
# The smallest card payment the provider takes (Stripe: USD 0.50): the cash
# part of a purchase is zero or at least this.
MINIMUM_CHARGE = Decimal("0.50")
# A card payment still waiting for the customer (3-D Secure) after this long
# is cancelled by reconcile_credits and its purchase failed.
STRIPE_PAYMENT_TIMEOUT_SECONDS = env.int("STRIPE_PAYMENT_TIMEOUT_SECONDS", default=3600)
# A purchase still in progress after this many seconds counts as interrupted:
# resubmitting it, or reconcile_credits, resumes it.
CHECKOUT_LEASE_SECONDS = env.int("CHECKOUT_LEASE_SECONDS", default=120)

# The site's address, for links in e-mails (receipts).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# The shop's name, shown in the admin's header and title.
SHOP_NAME = env("SHOP_NAME", default="Referral Store")
# Count every database command per thread (referral_site.db_monitoring.count_commands):
# on in the tests and the benchmark only.
DB_COMMAND_COUNTING = env.bool("DB_COMMAND_COUNTING", default=False)
# /_floor/: the layout alone, the benchmark's framework floor. Off: a 404.
BENCHMARK_FLOOR_VIEW = env.bool("BENCHMARK_FLOOR_VIEW", default=False)

# --- Product files and covers (GridFS, referral_site/storage.py) -------------
PRODUCT_FILE_MAX_BYTES = env.int("PRODUCT_FILE_MAX_BYTES", default=200 * 1024 * 1024)
PRODUCT_FILE_TYPES = frozenset(
    env.list(
        "PRODUCT_FILE_TYPES",
        default=[
            "application/pdf",
            "application/epub+zip",
            "application/zip",
            "text/plain",
            "video/mp4",
            "audio/mpeg",
        ],
    )
)
PRODUCT_COVER_MAX_BYTES = env.int("PRODUCT_COVER_MAX_BYTES", default=5 * 1024 * 1024)
# Downloads per customer per hour (each Range request counts).
DOWNLOAD_RATE_LIMIT = env.int("DOWNLOAD_RATE_LIMIT", default=60)
# Larger uploads go to a temporary file, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Operations -----------------------------------------------------------
# Prometheus metrics at /metrics (README, Metrics). Closed to everyone unless
# a client address/network or a bearer token is configured.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")
# serverStatus and the credits/purchases numbers are read at most this often (seconds).
METRICS_DB_SCRAPE_SECONDS = env.float("METRICS_DB_SCRAPE_SECONDS", default=5)
# Where `backup --keep-days` looks for the backups it made and may prune.
BACKUP_DIR = env.path("BACKUP_DIR", default=str(VAR_DIR / "backups"))
# Database commands slower than this are logged (collection, command, duration).
SLOW_QUERY_MS = env.float("SLOW_QUERY_MS", default=100)
# Only the site's own files: scripts and styles from /static/, no inline code.
# Product images may live elsewhere: list their hosts in CSP_IMG_HOSTS.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", *env.list("CSP_IMG_HOSTS", default=[])],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}
