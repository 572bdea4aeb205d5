"""Production settings: check --deploy is clean, required variables are enforced."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from referral_site.logging import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_ENV = {
    "DJANGO_SETTINGS_MODULE": "referral_site.settings.production",
    "SECRET_KEY": "x7Qm2vP9sL4tR8wZ1yK6nB3cD5fG0hJ-aE_iO7uT2qW9rY4pS6dF8gH1jK3lZ5xC",
    "ALLOWED_HOSTS": "shop.example.com",
    "MONGODB_URI": "mongodb://db.example.com:27017/referral_store?replicaSet=rs0",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "STRIPE_SECRET_KEY": "sk_live_documented",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_documented",
    "STRIPE_WEBHOOK_SECRET": "whsec_documented",
    "TRUSTED_PROXY_COUNT": "1",
}


def _manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in DOCUMENTED_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_the_documented_environment():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=DOCUMENTED_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "MONGODB_URI",
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
    ],
)
def test_a_missing_required_variable_is_a_one_line_error(missing):
    env = {k: v for k, v in DOCUMENTED_ENV.items() if k != missing}

    result = _manage("check", env=env)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {missing} must be set in production (see README, Deploying)"
    )


def test_check_deploy_warns_when_the_proxy_count_is_left_at_zero():
    env = {**DOCUMENTED_ENV, "TRUSTED_PROXY_COUNT": "0"}

    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 1
    assert "accounts.W002" in result.stderr + result.stdout


def test_test_mode_stripe_keys_are_refused_unless_allowed():
    env = {
        **DOCUMENTED_ENV,
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
    }

    refused = _manage("check", env=env)
    allowed = _manage("check", env={**env, "STRIPE_ALLOW_TEST_KEYS": "true"})

    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: Stripe test-mode keys in production; use live keys, or set "
        "STRIPE_ALLOW_TEST_KEYS=true for a staging site"
    )
    assert allowed.returncode == 0, allowed.stderr


def test_pages_carry_a_content_security_policy_of_our_own_files_only(client, db):
    response = client.get("/")

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "onerror=" not in response.content.decode()


def test_json_log_lines_carry_the_message_and_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "referral_site.slow_query",
            "levelname": "WARNING",
            "msg": "slow %s",
            "args": ("find",),
            "db_command": "find",
            "duration_ms": 120.5,
        }
    )

    import json

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "slow find"
    assert line["level"] == "WARNING"
    assert (line["db_command"], line["duration_ms"]) == ("find", 120.5)


@pytest.mark.parametrize(
    ("uri", "warned"),
    [
        ("mongodb://db.example.com:27017/referral_store", True),
        ("mongodb://a.example.com,b.example.com/referral_store?w=majority", True),
        ("mongodb://db.example.com:27017/referral_store?replicaSet=rs0", False),
        ("mongodb://db.example.com/referral_store?replicaset=rs0", False),
    ],
)
def test_check_deploy_warns_when_mongodb_uri_names_no_replica_set(uri, warned):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**DOCUMENTED_ENV, "MONGODB_URI": uri}
    )

    assert ("referral_site.W001" in result.stderr + result.stdout) is warned
    assert result.returncode == (1 if warned else 0)


def test_an_atlas_srv_address_counts_as_a_replica_set():
    # Not through `check`: the settings resolve an SRV address's DNS records.
    from referral_site.checks import names_replica_set

    assert names_replica_set("mongodb+srv://u:p@cluster0.example.mongodb.net/referral_store")
    assert not names_replica_set("mongodb://db.example.com/referral_store?replicaSet=")
