"""Reproductions from the security review, each answered correctly."""

import pytest

from accounts.models import User
from purchases.models import Purchase

PASSWORD = "correct-horse-battery"


@pytest.fixture
def low_limit(settings):
    settings.AUTH_RATE_LIMIT = 3
    settings.AUTH_RATE_WINDOW_SECONDS = 900
    return settings


def _login(client, email, password="wrong-password", ip="10.0.0.1", path="/accounts/login/"):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=ip)


# --- Limits --------------------------------------------------------------------------


def test_the_admin_sign_in_is_limited_like_the_sites(client, staff_user, low_limit):
    for _ in range(3):
        assert _login(client, staff_user.email, path="/admin/login/").status_code == 200

    response = _login(client, staff_user.email, password=PASSWORD, path="/admin/login/")

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_sign_in_still_signs_staff_in(client, staff_user, low_limit):
    response = _login(client, staff_user.email, password=PASSWORD, path="/admin/login/")

    assert response.status_code == 302 and response.url == "/admin/"


def test_password_change_checks_are_limited(client, user, low_limit):
    client.force_login(user)
    change = {"new_password1": "a-new-long-pass-42", "new_password2": "a-new-long-pass-42"}
    for _ in range(3):
        client.post("/accounts/password_change/", {"old_password": "nope", **change})

    response = client.post("/accounts/password_change/", {"old_password": PASSWORD, **change})

    assert response.status_code == 429
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_account_deletion_password_checks_are_limited(client, user, low_limit):
    client.force_login(user)
    for _ in range(3):
        client.post("/accounts/settings/delete/", {"password": "nope"})

    response = client.post("/accounts/settings/delete/", {"password": PASSWORD})

    assert response.status_code == 429
    user.refresh_from_db()
    assert user.is_active


def test_guessing_referral_codes_is_limited_per_address(client, user, low_limit):
    for code in ("AAAAAAAA", "BBBBBBBB", "CCCCCCCC"):
        client.get(f"/r/{code}/", REMOTE_ADDR="10.0.0.9")

    guessed_right = client.get(f"/r/{user.referral_code}/", REMOTE_ADDR="10.0.0.9")
    elsewhere = client.get(f"/r/{user.referral_code}/", REMOTE_ADDR="10.0.0.10")

    assert guessed_right.status_code == 429
    assert elsewhere.status_code == 200  # the invite page


def test_failures_elsewhere_do_not_lock_the_owners_browser_out(client, user, low_limit):
    from django.test import Client

    assert _login(client, user.email, password=PASSWORD).status_code == 302  # known browser
    client.post("/accounts/logout/")
    attacker = Client()
    for n in range(10):
        _login(attacker, user.email, ip=f"10.6.6.{n}")

    owner = _login(client, user.email, password=PASSWORD, ip="10.0.0.1")
    stranger = _login(Client(), user.email, password=PASSWORD, ip="10.0.0.2")

    assert owner.status_code == 302
    assert stranger.status_code == 429


def test_successful_sign_ins_do_not_count(client, user, low_limit):
    for _ in range(5):
        assert _login(client, user.email, password=PASSWORD).status_code == 302
        client.post("/accounts/logout/")


# --- Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("next_url", ["foo", "-1", "//evil.example.com", "javascript:x"])
def test_a_next_that_is_not_a_path_here_goes_to_the_default_page(client, db, next_url):
    response = client.post(
        f"/accounts/signup/?next={next_url}",
        {"name": "Alan Turing", "email": "alan@example.com", "password": "enigma-machine-1912"},
    )
    again = client.get(f"/accounts/signup/?next={next_url}")

    assert response.status_code == 302 and response.url == "/dashboard/"
    assert again.status_code == 302 and again.url == "/dashboard/"


@pytest.mark.parametrize("amount", [str(2**63), str(-(2**63) - 5), "100001"])
def test_a_huge_staff_adjustment_is_a_field_error(client, staff_user, user, amount):
    client.force_login(staff_user)
    page = client.get("/admin/credits/credittransaction/add/").content.decode()
    token = page.split('name="token" value="')[1][:32]

    response = client.post(
        "/admin/credits/credittransaction/add/",
        {"token": token, "user": user.email, "amount": amount, "reason": "typo"},
    )

    assert response.status_code == 200
    assert "An adjustment is at most 100,000 credits either way." in response.content.decode()
    user.refresh_from_db()
    assert user.credits == 0


@pytest.mark.parametrize(
    "query", ["created_at__year=99999999", "created_at__year=abc", "created_at__month=13"]
)
def test_odd_date_filters_in_the_admin_are_no_server_error(client, staff_user, query):
    client.force_login(staff_user)

    response = client.get(f"/admin/purchases/purchase/?{query}")

    assert response.status_code < 500


@pytest.mark.parametrize("name", ["Ada\r\nBcc: x@example.com", "Ada\x00", "Ada\tLovelace"])
def test_names_with_control_characters_are_refused(client, db, name):
    response = client.post(
        "/accounts/signup/",
        {"name": name, "email": "ada2@example.com", "password": "enigma-machine-1912"},
    )

    assert response.status_code == 200
    assert "no line breaks or control characters" in response.content.decode()
    assert not User.objects.filter(email="ada2@example.com").exists()


def test_a_password_like_the_name_is_refused(client, db):
    response = client.post(
        "/accounts/signup/",
        {"name": "Margaret Hamilton", "email": "mh@example.com", "password": "margarethamilton"},
    )

    assert "too similar" in response.content.decode()
    assert not User.objects.filter(email="mh@example.com").exists()


def test_receipts_purchase_lists_and_checkout_are_not_stored_by_caches(
    client, user, product_factory
):
    product = product_factory()
    purchase = Purchase.objects.create(
        user=user,
        product=product,
        product_name=product.title,
        amount=product.price,
        cash_amount=product.price,
        status="completed",
    )
    client.force_login(user)

    for url in ("/purchases/", f"/purchases/{purchase.pk}/", f"/checkout/{product_factory().pk}/"):
        assert "no-store" in client.get(url)["Cache-Control"], url


def test_the_payment_method_is_kept_out_of_error_reports(client, user, product_factory):
    client.force_login(user)

    response = client.post(f"/checkout/{product_factory().pk}/", {"payment_method_id": "pm_x"})

    assert response.wsgi_request.sensitive_post_parameters == ("payment_method_id",)
