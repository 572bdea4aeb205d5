"""Sign-in and sign-up through Clerk against a stand-in instance: the Clerk pages,
the referral at a Clerk sign-up, the Django session tied to the Clerk session
(status checks, sign-out), and linking to a password account."""

import pytest

from referrals.capture import REFERRAL_COOKIE
from tests.clerk_fake import ISSUER

SUB = "user_2sessionABCdef"
SID = "sess_2sessionABCdef"


def _arrive(client, fake_clerk, *, sub=SUB, sid=SID, path="/accounts/clerk/complete/"):
    """What ClerkJS does after a sign-in: the __session cookie set, then the return page."""
    client.cookies["__session"] = fake_clerk.token(sub=sub, sid=sid)
    return client.get(path)


# --- The pages -------------------------------------------------------------------------


def test_clerk_sign_in_page_mounts_clerkjs_under_a_policy_allowing_exactly_clerk(
    client, fake_clerk
):
    # When
    response = client.get("/accounts/clerk/sign-in/")

    # Then: ClerkJS from the Frontend API with the publishable key, the mount point
    body = response.content.decode()
    assert response.status_code == 200
    assert f'src="{ISSUER}/npm/@clerk/clerk-js@6/dist/clerk.browser.js"' in body
    assert f'data-clerk-publishable-key="{fake_clerk_key()}"' in body
    assert 'data-complete-url="/accounts/clerk/complete/"' in body
    policy = _policy(response)
    assert policy["script-src"] == ["'self'", ISSUER, "https://challenges.cloudflare.com"]
    assert policy["connect-src"] == ["'self'", ISSUER]
    assert "https://img.clerk.com" in policy["img-src"]
    assert policy["frame-src"] == ["'self'", "https://challenges.cloudflare.com"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_every_other_page_keeps_the_strict_policy(client, fake_clerk):
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/products/"):
        policy = _policy(client.get(path))
        assert policy["script-src"] == ["'self'"], path
        assert policy["connect-src"] == ["'self'"], path
        assert "frame-src" not in policy, path


def test_with_clerk_the_header_links_go_to_the_clerk_pages_and_password_sign_in_stays(
    client, fake_clerk
):
    body = client.get("/").content.decode()
    assert 'href="/accounts/clerk/sign-in/"' in body
    assert 'href="/accounts/clerk/sign-up/"' in body
    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert 'href="/accounts/clerk/sign-in/"' in login.content.decode()


def test_without_clerk_the_clerk_pages_do_not_exist_and_password_sign_in_is_the_default(client, db):
    assert client.get("/accounts/clerk/sign-in/").status_code == 404
    assert client.get("/accounts/clerk/sign-up/").status_code == 404
    body = client.get("/").content.decode()
    assert 'href="/accounts/login/"' in body
    assert "/accounts/clerk/" not in body


# --- Sign-up with a referral ----------------------------------------------------------------


def test_referral_cookie_at_clerk_sign_up_refers_the_new_user(client, fake_clerk, referrer, mongo):
    # Given: the friend opened the referrer's link, then signed up in Clerk's widget
    client.get(f"/r/{referrer.referral_code}/")
    fake_clerk.add_user(SUB, first_name="Alan", last_name="Turing", email="alan@example.com")
    fake_clerk.add_session(SID, user_id=SUB)
    assert "Invited by" in client.get("/accounts/clerk/sign-up/").content.decode()

    # When: ClerkJS sends the browser back with its session cookie
    response = _arrive(client, fake_clerk)

    # Then: like the local sign-up: referred, a pending referral, welcomed, code forgotten
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    stored = mongo.users.find_one({"clerkUserId": SUB})
    assert stored["name"] == "Alan Turing"
    assert stored["email"] == "alan@example.com"
    assert stored["referredBy"] == referrer.pk
    referral = mongo.referrals.find_one({"referredUserId": stored["_id"]})
    assert referral["referrerId"] == referrer.pk
    assert referral["status"] == "pending"
    assert mongo.users.find_one({"_id": referrer.pk})["totalReferredUsers"] == 1
    assert response.cookies[REFERRAL_COOKIE].value == ""


def test_a_clerk_sign_in_of_a_known_user_lands_on_next(client, fake_clerk, user_factory):
    user_factory(name="Known", email=None, password=None, clerk_user_id=SUB)
    fake_clerk.add_session(SID, user_id=SUB)
    client.cookies["__session"] = fake_clerk.token(sub=SUB, sid=SID)
    response = client.get("/accounts/clerk/complete/?next=/library/")
    assert response.status_code == 302
    assert response["Location"] == "/library/"


def test_the_return_page_without_a_token_says_so(client, fake_clerk):
    response = client.get("/accounts/clerk/complete/")
    assert response.status_code == 401
    assert "could not sign you in" in response.content.decode()


# --- The Django session follows the Clerk session ----------------------------------------------


def test_the_session_status_is_asked_at_most_every_interval_and_a_revoked_one_ends(
    client, fake_clerk, settings, user_factory, mongo
):
    # Given: signed in through Clerk; the token cookie gone (as after a minute)
    user_factory(name="Mary Jackson", email=None, password=None, clerk_user_id=SUB)
    fake_clerk.add_session(SID, user_id=SUB)
    _arrive(client, fake_clerk, path="/")
    del client.cookies["__session"]
    session_key = client.session.session_key
    settings.CLERK_SESSION_CHECK_SECONDS = 300

    # When: requests within the interval
    for _ in range(3):
        assert client.get("/dashboard/").status_code == 200

    # Then: Clerk was not asked
    assert fake_clerk.count(f"GET /v1/sessions/{SID}") == 0

    # When: Clerk revokes the session (a ban, a sign-out elsewhere) and the interval passes
    fake_clerk.sessions[SID]["status"] = "revoked"
    settings.CLERK_SESSION_CHECK_SECONDS = 0
    response = client.get("/dashboard/")

    # Then: asked once, signed out, the Django session gone, its tokens refused from now on
    assert fake_clerk.count(f"GET /v1/sessions/{SID}") == 1
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert mongo.django_session.count_documents({"session_key": session_key}) == 0
    assert mongo.clerkSessions.find_one({"sessionId": SID})["endedAt"] is not None
    again = _arrive(type(client)(), fake_clerk, path="/")
    assert not again.wsgi_request.user.is_authenticated


def test_an_active_session_stays_and_an_unreachable_clerk_signs_nobody_out(
    client, fake_clerk, settings, user_factory
):
    user_factory(name="Dorothy", email=None, password=None, clerk_user_id=SUB)
    fake_clerk.add_session(SID, user_id=SUB)
    _arrive(client, fake_clerk, path="/")
    del client.cookies["__session"]
    settings.CLERK_SESSION_CHECK_SECONDS = 0

    assert client.get("/dashboard/").status_code == 200
    fake_clerk.down = True
    assert client.get("/dashboard/").status_code == 200
    assert fake_clerk.count(f"GET /v1/sessions/{SID}") >= 2


def test_logout_revokes_the_clerk_session_and_clears_the_clerk_cookies(
    client, fake_clerk, user_factory, mongo
):
    # Given
    user_factory(name="Annie", email=None, password=None, clerk_user_id=SUB)
    fake_clerk.add_session(SID, user_id=SUB)
    token = fake_clerk.token(sub=SUB, sid=SID)
    client.cookies["__session"] = token
    client.cookies["__client_uat"] = "1700000000"
    client.cookies["__client_uat_Xy12"] = "1700000000"
    assert client.get("/").wsgi_request.user.is_authenticated

    # When
    response = client.post("/accounts/logout/")

    # Then: revoked in Clerk, cookies cleared, and the still-valid token cannot sign back in
    assert response.status_code == 302
    assert fake_clerk.count(f"POST /v1/sessions/{SID}/revoke") == 1
    assert fake_clerk.sessions[SID]["status"] == "revoked"
    assert response.cookies["__session"].value == ""
    assert response.cookies["__client_uat"].value == ""
    assert response.cookies["__client_uat_Xy12"].value == ""
    assert mongo.clerkSessions.find_one({"sessionId": SID})["endedAt"] is not None
    replay = type(client)()
    replay.cookies["__session"] = token
    assert not replay.get("/").wsgi_request.user.is_authenticated


def test_logout_of_a_password_account_calls_clerk_for_nothing(client, fake_clerk, user):
    client.force_login(user)
    assert client.post("/accounts/logout/").status_code == 302
    assert fake_clerk.calls == []


# --- Linking to a password account ---------------------------------------------------------------


@pytest.fixture
def local_account(user_factory):
    return user_factory(
        name="Grace Local", email="grace.local@example.com", password="pw-of-grace-1"
    )


def test_a_matching_verified_email_needs_the_accounts_password_before_linking(
    client, fake_clerk, local_account, mongo
):
    # Given
    fake_clerk.add_user(SUB, email="Grace.Local@example.com")
    fake_clerk.add_session(SID, user_id=SUB)

    # When: back from Clerk
    response = _arrive(client, fake_clerk)

    # Then: not signed in, asked for the password; nothing created or linked
    assert response.status_code == 302
    assert response["Location"] == "/accounts/clerk/link/"
    page = client.get("/accounts/clerk/link/")
    assert "grace.local@example.com" in page.content.decode()
    assert not page.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({}) == 1

    # When: a wrong password
    wrong = client.post("/accounts/clerk/link/", {"action": "link", "password": "guess"})

    # Then: a field error, still not linked
    assert wrong.status_code == 400
    assert "not this account&#x27;s password" in wrong.content.decode()
    assert mongo.users.find_one({"_id": local_account.pk})["clerkUserId"].startswith("local_")

    # When: the right one
    right = client.post("/accounts/clerk/link/", {"action": "link", "password": "pw-of-grace-1"})

    # Then: the same account, now with the Clerk id, signed in and tied to the Clerk session
    assert right.status_code == 302
    assert mongo.users.count_documents({}) == 1
    assert mongo.users.find_one({"_id": local_account.pk})["clerkUserId"] == SUB
    assert client.session["clerk_sid"] == SID
    assert client.get("/").wsgi_request.user.pk == local_account.pk


def test_declining_the_link_makes_a_separate_account_without_the_address(
    client, fake_clerk, local_account, mongo
):
    fake_clerk.add_user(SUB, email="grace.local@example.com")
    fake_clerk.add_session(SID, user_id=SUB)
    _arrive(client, fake_clerk)

    response = client.post("/accounts/clerk/link/", {"action": "new"})

    assert response.status_code == 302
    created = mongo.users.find_one({"clerkUserId": SUB})
    assert created["_id"] != local_account.pk
    assert created["email"] is None
    assert mongo.users.find_one({"_id": local_account.pk})["clerkUserId"].startswith("local_")


def test_an_unverified_matching_email_links_nothing_and_makes_a_new_account(
    client, fake_clerk, local_account, mongo
):
    fake_clerk.add_user(SUB, email="grace.local@example.com", verified=False)
    fake_clerk.add_session(SID, user_id=SUB)

    response = _arrive(client, fake_clerk)

    assert response.status_code == 302
    assert response.wsgi_request.user.is_authenticated
    created = mongo.users.find_one({"clerkUserId": SUB})
    assert created["_id"] != local_account.pk
    assert created["email"] is None


def _policy(response) -> dict:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def fake_clerk_key() -> str:
    from tests.clerk_fake import PUBLISHABLE_KEY

    return PUBLISHABLE_KEY
