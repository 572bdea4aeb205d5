import json

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from catalog.models import Category, Product
from referral_site import embedded, health
from referral_site.db.base import DatabaseWrapper


def test_healthz_answers_200_with_json_when_the_database_pings(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def unreachable_connection(monkeypatch):
    # A real connection to a port where the server was just stopped.
    server = embedded.start_ephemeral()
    server.stop()
    settings_dict = {
        **connection.settings_dict,
        "HOST": server.uri,
        "OPTIONS": {"serverSelectionTimeoutMS": 300},
    }
    settings_dict.pop("EMBEDDED", None)
    dead = DatabaseWrapper(settings_dict, alias="healthz-down")
    monkeypatch.setattr(health, "connection", dead)
    yield dead
    dead.close_pool()


def test_healthz_answers_503_with_the_reason_when_the_database_is_down(
    client, db, unreachable_connection
):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["database"] == {"ok": False, "error": "ServerSelectionTimeoutError"}


def test_seed_demo_loads_the_catalog_and_accounts_and_adds_nothing_the_second_time(db):
    call_command("seed_demo", verbosity=0)
    products = Product.objects.count()
    users = User.objects.count()

    call_command("seed_demo", verbosity=0)

    assert products >= 12
    assert Product.objects.count() == products
    assert User.objects.count() == users == 2
    assert set(Product.objects.values_list("category", flat=True)) == set(Category.values)
    clean_code = Product.objects.get(title="Clean Code")
    assert (clean_code.author, str(clean_code.price)) == ("Robert C. Martin", "32.99")
    staff = User.objects.get(email="admin@example.com")
    assert staff.is_staff and staff.check_password("demo-admin-pass")


def test_livez_answers_without_touching_the_database(client, db):
    from referral_site.db_monitoring import count_commands

    with count_commands() as log:
        response = client.get("/livez")

    assert response.status_code == 200 and response.content == b"ok"
    assert len(log) == 0


def test_seed_demo_refuses_production_settings(db, settings):
    from django.core.management.base import CommandError

    settings.SETTINGS_MODULE = "referral_site.settings.production"

    with pytest.raises(CommandError, match="refusing to create demo accounts"):
        call_command("seed_demo", verbosity=0)
    assert not User.objects.exists()
