"""The Clerk pages in the browser: their relaxed policy lets ClerkJS in and the
page mounts Clerk's component; every other page keeps the strict policy.

Clerk's widget itself needs a real Clerk instance (README, "Signing in with
Clerk"). Here the site runs with a stand-in instance's keys and CLERK_JS_URL
pointing at a local script that plays ClerkJS's part: it defines
``window.Clerk`` with ``load()`` and ``mountSignIn``/``mountSignUp``, and
writes into the node it is given. So the test shows that the policy admits
ClerkJS's origin (and nothing blocks it), that the page's own script mounts
the right component with the return URL, and that the rest of the site is
unchanged.
"""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import expect

from accounts.models import User
from accounts.services import user_create
from tests.clerk_fake import ISSUER, ORIGIN, PUBLISHABLE_KEY, SECRET_KEY, FakeClerk
from tests.e2e.conftest import ROOT, serve_site
from tests.e2e.helpers import watch_for_page_errors

AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 740}
_AXE_RUN = """
async () => {
  const results = await axe.run(document, { resultTypes: ['violations'] });
  return results.violations.map((v) => `${v.id} (${v.impact}): ${v.help} ` +
    v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', '));
}
"""

pytestmark = pytest.mark.e2e

STAND_IN_CLERK_JS = b"""
window.Clerk = {
  user: null,
  load: function () { return Promise.resolve(); },
  mountSignIn: function (node, options) {
    node.setAttribute("data-mounted", "sign-in " + options.forceRedirectUrl);
    node.textContent = "Stand-in Clerk sign-in";
  },
  mountSignUp: function (node, options) {
    node.setAttribute("data-mounted", "sign-up " + options.signUpForceRedirectUrl);
    node.textContent = "Stand-in Clerk sign-up";
  }
};
"""


@pytest.fixture(scope="module")
def clerk_js_origin():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(STAND_IN_CLERK_JS)))
            self.end_headers()
            self.wfile.write(STAND_IN_CLERK_JS)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def instance():
    """The stand-in Clerk instance, answering the site's Backend API calls."""
    fake = FakeClerk()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def clerk_site(django_db_setup, clerk_js_origin, instance):
    extra = {
        "CLERK_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "CLERK_SECRET_KEY": SECRET_KEY,
        "CLERK_API_URL": instance.url,
        "CLERK_AUTHORIZED_PARTIES": ORIGIN,
        "CLERK_JS_URL": f"{clerk_js_origin}/npm/@clerk/clerk-js@6/dist/clerk.browser.js",
    }
    with serve_site(extra, log_name="e2e-gunicorn-clerk.log") as base:
        yield base


@pytest.fixture
def clerk_page(browser, clerk_site, request):
    context = browser.new_context(base_url=clerk_site)
    page = context.new_page()
    request.node._e2e_pages = [page]
    yield page
    context.close()


@pytest.fixture
def axe_page(browser, clerk_site, request):
    """A phone-sized page that bypasses the CSP only to add axe-core's script."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run scripts/ensure-axe (make test does)")
    context = browser.new_context(base_url=clerk_site, viewport=PHONE, bypass_csp=True)
    context.add_init_script(path=AXE_SCRIPT)
    page = context.new_page()
    request.node._e2e_pages = [page]
    yield page
    context.close()


def _fits_and_passes_axe(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    assert page.evaluate(_AXE_RUN) == [], page.url


def _directives(header: str) -> dict:
    result = {}
    for part in header.split(";"):
        name, *values = part.split()
        result[name] = values
    return result


@pytest.mark.parametrize(
    ("path", "mode", "heading"),
    [
        ("/accounts/clerk/sign-in/", "sign-in", "Log in"),
        ("/accounts/clerk/sign-up/", "sign-up", "Create your account"),
    ],
)
def test_a_clerk_page_loads_clerkjs_under_its_own_policy_and_mounts_the_component(
    clerk_page, clerk_js_origin, path, mode, heading
):
    # Given
    problems = watch_for_page_errors(clerk_page)

    # When
    response = clerk_page.goto(f"{path}?next=/library/")

    # Then: the relaxed policy names exactly Clerk's origins, and nothing was refused
    policy = _directives(response.headers["content-security-policy"])
    assert policy["script-src"] == [
        "'self'",
        ISSUER,
        clerk_js_origin,
        "https://challenges.cloudflare.com",
    ]
    assert policy["connect-src"] == ["'self'", ISSUER, clerk_js_origin]
    assert policy["frame-src"] == ["'self'", "https://challenges.cloudflare.com"]
    assert policy["frame-ancestors"] == ["'none'"]
    expect(clerk_page.get_by_role("heading", level=1)).to_have_text(heading)
    component = clerk_page.locator("#clerk-component")
    expect(component).to_have_attribute(
        "data-mounted", f"{mode} /accounts/clerk/complete/?next=%2Flibrary%2F"
    )
    assert problems == []


def test_the_rest_of_the_site_keeps_the_strict_policy_and_links_to_the_clerk_pages(
    clerk_page, clerk_js_origin
):
    # Given
    problems = watch_for_page_errors(clerk_page)

    for path in ("/", "/accounts/login/", "/accounts/signup/", "/products/"):
        # When
        response = clerk_page.goto(path)

        # Then
        policy = _directives(response.headers["content-security-policy"])
        assert policy["script-src"] == ["'self'"], path
        assert policy["connect-src"] == ["'self'"], path
        assert "frame-src" not in policy, path
        assert clerk_page.locator("script[src*='clerk']").count() == 0, path
    clerk_page.goto("/")
    expect(clerk_page.locator("a[href='/accounts/clerk/sign-in/']").first).to_be_attached()
    assert problems == []


@pytest.mark.parametrize("path", ["/accounts/clerk/sign-in/", "/accounts/clerk/sign-up/"])
def test_the_clerk_pages_are_accessible_on_a_phone(axe_page, path):
    axe_page.goto(path)
    expect(axe_page.locator("#clerk-component")).to_have_attribute(
        "data-mounted", re.compile(r"^sign-")
    )
    _fits_and_passes_axe(axe_page)


def test_linking_a_clerk_sign_in_to_a_password_account_in_the_browser(
    transactional_db, axe_page, clerk_site, instance
):
    # Given: a password account, and a Clerk user with the same verified address
    account = user_create(email="grace@example.com", password=None, name="Grace")
    # Hashed as the site (local settings) hashes, not with the tests' fast MD5.
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=account.pk).update(
        password=hasher.encode("grace-pass-1906", hasher.salt())
    )
    sub, sid = "user_2browserLINK", "sess_2browserLINK"
    instance.add_user(sub, first_name="Grace", last_name="Hopper", email="grace@example.com")
    instance.add_session(sid, user_id=sub)

    # When: ClerkJS has set the session cookie and sent the browser back
    axe_page.context.add_cookies(
        [{"name": "__session", "value": instance.token(sub=sub, sid=sid), "url": clerk_site}]
    )
    axe_page.goto("/accounts/clerk/complete/")

    # Then: the password is asked for; a wrong one is a field error
    expect(axe_page).to_have_url(re.compile(r"/accounts/clerk/link/$"))
    expect(axe_page.get_by_role("heading", level=1)).to_have_text("You already have an account")
    _fits_and_passes_axe(axe_page)
    axe_page.get_by_label("Password of that account").fill("wrong")
    axe_page.get_by_role("button", name="Link and log in").click()
    expect(axe_page.locator("#id_password_error")).to_contain_text("not this account")
    _fits_and_passes_axe(axe_page)

    # When: the right password
    axe_page.get_by_label("Password of that account").fill("grace-pass-1906")
    axe_page.get_by_role("button", name="Link and log in").click()

    # Then: signed in to that same account, now linked
    expect(axe_page.locator(".nav-user")).to_have_text("Grace")
    account.refresh_from_db()
    assert account.clerk_user_id == sub
