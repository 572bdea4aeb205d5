"""Test run: fast hashing, mail kept in memory, a per-run memory database.

tests/conftest.py starts the memory-engine server and points HOST at it unless
MONGODB_URI is set (then the suite runs against that real MongoDB).
"""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The embedded server under a loaded CI machine is slow; tests that check the
# slow-query log set their own threshold.
SLOW_QUERY_MS = 5000
# The tests count the database commands of pages (hot paths stay flat).
DB_COMMAND_COUNTING = True
