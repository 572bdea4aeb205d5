"""Log in, log out, password change and reset, CSRF."""

import re

from django.core import mail
from django.test import Client

from accounts.forms import PasswordChangeForm
from accounts.models import User

PASSWORD = "correct-horse-battery"  # tests/factories.py


def test_signup_page_has_labelled_fields(client, db):
    # When
    response = client.get("/accounts/signup/")

    # Then
    content = response.content.decode()
    assert response.status_code == 200
    for name in ("name", "email", "password", "referral_code"):
        assert f'<label for="id_{name}"' in content
        assert f'name="{name}"' in content
    assert "csrfmiddlewaretoken" in content


def test_signup_signs_in_and_goes_to_next_when_it_is_safe(client, db, signup_data):
    # When
    response = client.post("/accounts/signup/?next=/products/", signup_data)

    # Then
    assert response["Location"] == "/products/"
    assert client.session.get("_auth_user_id")


def test_signup_ignores_an_offsite_next(client, db, signup_data, settings):
    # Given
    settings.SIGNUP_REDIRECT_URL = "/welcome/"

    # When
    response = client.post("/accounts/signup/?next=https://evil.example/", signup_data)

    # Then
    assert response["Location"] == "/welcome/"


def test_signup_shows_field_errors(client, db):
    # When
    response = client.post(
        "/accounts/signup/", {"name": " ", "email": "not-an-email", "password": "123"}
    )

    # Then
    errors = response.context["form"].errors
    assert response.status_code == 200
    assert set(errors) == {"name", "email", "password"}
    assert 'class="errorlist' in response.content.decode()
    assert User.objects.count() == 0


def test_signup_stores_the_email_in_lower_case(client, db, signup_data, mongo):
    # When
    client.post("/accounts/signup/", {**signup_data, "email": "Alan@EXAMPLE.com"})

    # Then
    assert mongo.users.find_one({"name": "Alan Turing"})["email"] == "alan@example.com"


def test_login_accepts_the_email_in_any_case_and_logout_signs_out(client, user):
    # When
    response = client.post(
        "/accounts/login/", {"username": "ADA@example.COM", "password": PASSWORD}
    )

    # Then
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)

    # When
    response = client.post("/accounts/logout/")

    # Then
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_login_with_a_wrong_password_shows_an_error(client, user):
    # When
    response = client.post("/accounts/login/", {"username": "ada@example.com", "password": "wrong"})

    # Then
    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_by_get_is_refused(client, user):
    # Given
    client.force_login(user)

    # When
    response = client.get("/accounts/logout/")

    # Then
    assert response.status_code == 405
    assert client.session["_auth_user_id"] == str(user.pk)


def test_forms_refuse_posts_without_a_csrf_token(user, signup_data):
    # Given
    strict = Client(enforce_csrf_checks=True)

    # When
    signup = strict.post("/accounts/signup/", signup_data)
    login = strict.post("/accounts/login/", {"username": "ada@example.com", "password": PASSWORD})
    reset = strict.post("/accounts/password_reset/", {"email": "ada@example.com"})

    # Then
    assert (signup.status_code, login.status_code, reset.status_code) == (403, 403, 403)
    assert not User.objects.filter(email="alan@example.com").exists()
    assert mail.outbox == []


def test_password_change_keeps_balances_and_accepts_the_new_password(
    client, user, mongo, monkeypatch
):
    # Given: credits are awarded while the request runs, after it loaded the user
    client.force_login(user)
    original_clean = PasswordChangeForm.clean

    def clean_during_an_award(form):
        User.objects.filter(pk=user.pk).update(credits=4)
        return original_clean(form)

    monkeypatch.setattr(PasswordChangeForm, "clean", clean_during_an_award)

    # When
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "brand-new-pass-77",
            "new_password2": "brand-new-pass-77",
        },
    )

    # Then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_change/done/"
    assert mongo.users.find_one({"_id": user.pk})["credits"] == 4
    assert Client().login(username="ada@example.com", password="brand-new-pass-77")


def test_password_change_needs_a_signed_in_user(client, db):
    # When
    response = client.get("/accounts/password_change/")

    # Then
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_password_reset_mails_a_link_that_sets_a_new_password(client, user):
    # When: the address is typed in another letter case
    response = client.post("/accounts/password_reset/", {"email": "Ada@Example.com"})

    # Then
    assert response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

    # When: the link is followed and a new password chosen
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "fresh-start-2024", "new_password2": "fresh-start-2024"}
    )

    # Then
    assert done["Location"] == "/accounts/reset/done/"
    assert Client().login(username="ada@example.com", password="fresh-start-2024")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, user):
    # When
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})

    # Then: no hint whether the account exists
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []
