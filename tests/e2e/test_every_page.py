"""Every page, customer and admin, on a 375 px wide phone screen: no sideways
scrolling, and no accessibility violations found by axe-core; and keyboard focus
that can be seen (an outline of at least 3:1 contrast with what is behind it).

One data set serves the whole module (``module_db``): a referrer with two
referrals, one of them waiting for review; her friend, who bought a book by
card (receipt, library, purchase history) and downloaded it; a customer
stopped at the bank's 3-D Secure page; a staff superuser. Each page is its own
test id (``pytest -k receipt``). Each visitor (anonymous, or signed in with a
session made when the data was built) keeps one browser page for the module,
its cookies reset before every test, so that the static files are fetched once.

axe-core is the ``axe-core`` npm package (package.json, installed by
scripts/ensure-axe, which ``make test`` runs). The site's Content-Security-
Policy allows its own scripts only, so the axe check opens its page in a
context that bypasses the policy to add axe's script; the overflow, heading,
message and focus checks open the page as it is served, policy and all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Page, expect

from accounts.models import RateLimitBucket
from accounts.services import user_create
from credits.models import CreditTransaction
from purchases.models import PaymentEvent, Purchase, PurchaseStatus
from referrals.models import Referral, ReferralStatus, Review, Signal
from referrals.services import referral_create
from tests.e2e.conftest import ROOT, TIMEOUT_MS, seed_catalog
from tests.e2e.helpers import THREE_D_SECURE, VISA, pay_by_card

pytestmark = pytest.mark.e2e

AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 740}
PASSWORD = "a-long-test-password-77"


# --- The data set -------------------------------------------------------------


def _session(user) -> str:
    """A signed-in session id for ``user``, made in-process (no login form, no rate limit)."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture(scope="module")
def site(module_db, browser, live_site):
    """The pages' data (ids, codes, sessions), built once for the module."""
    with module_db.unblock():
        products = seed_catalog()
        clean_code, refactoring = products["Clean Code"], products["Refactoring"]

        def person(name, email, **extra):
            return user_create(email=email, password=PASSWORD, name=name, **extra)

        ada = person("Ada Lovelace", "ada@example.com")
        bob = person("Bob Byron", "bob@example.com", referred_by=ada)
        referral_create(referrer=ada, referred_user=bob)
        # A second friend whose conversion waits for staff (the review queue has a row).
        carol = person("Carol Shaw", "carol@example.com", referred_by=ada)
        Referral.objects.create(
            referrer=ada,
            referred_user=carol,
            status=ReferralStatus.CONVERTED,
            signals=[Signal.SAME_IP, Signal.SAME_BROWSER],
            review=Review.WAITING,
        )
        linus = person("Linus Pauling", "linus@example.com")
        # Dora never signs in, so her password reset link stays valid.
        dora = person("Dora Reset", "dora@example.com")
        staff = person(
            "Margaret Hamilton", "margaret@example.com", is_staff=True, is_superuser=True
        )
        sessions = {
            "ada": _session(ada),
            "bob": _session(bob),
            "linus": _session(linus),
            "staff": _session(staff),
        }
        reset_path = (
            f"/accounts/reset/{urlsafe_base64_encode(force_bytes(dora.pk))}/"
            f"{default_token_generator.make_token(dora)}/"
        )

    # Bob buys Clean Code by card and downloads it; staff adjusts Ada's credits.
    context = browser.new_context(base_url=live_site)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        context.add_cookies([{"name": "sessionid", "value": sessions["bob"], "url": live_site}])
        page = context.new_page()
        page.goto(f"/checkout/{clean_code.pk}/")
        pay_by_card(page, VISA)
        expect(page).to_have_url(re.compile(r"/purchases/[0-9a-f]{24}/$"))
        expect(page.locator("#status")).to_have_text("Completed")
        purchase_id = page.url.rstrip("/").rsplit("/", 1)[-1]
        download = page.request.get(f"/purchases/{purchase_id}/download/")
        assert download.ok, download.status
        context.clear_cookies()
        context.add_cookies([{"name": "sessionid", "value": sessions["staff"], "url": live_site}])
        page.goto("/admin/credits/credittransaction/add/")
        page.get_by_label("Customer").fill("ada@example.com")
        page.get_by_label("Credits").fill("3")
        page.get_by_label("Reason").fill("Thanks for the bug report")
        page.get_by_role("button", name="Record adjustment").click()
        expect(page).to_have_url(re.compile(r"/admin/credits/credittransaction/$"))
    finally:
        context.close()

    with module_db.unblock():
        purchase = Purchase.objects.get(pk=purchase_id)
        assert purchase.status == PurchaseStatus.COMPLETED
        # The webhook (payment_intent.succeeded) arrives on its own; wait for it.
        event = _wait_for(lambda: PaymentEvent.objects.order_by("created_at").first())
        review = Referral.objects.get(referred_user=carol)
        entry = CreditTransaction.objects.filter(user=ada).order_by("-created_at").first()
        data = {
            "clean_code": clean_code.pk,
            "refactoring": refactoring.pk,
            "purchase": purchase.pk,
            "event": event.pk if event else None,
            "ada": ada.pk,
            "ada_code": ada.referral_code,
            "bob": bob.pk,
            "carol": carol.pk,
            "review": review.pk,
            "entry": entry.pk,
            "reset": reset_path,
        }
    return {"ids": data, "sessions": sessions, "db": module_db}


def _wait_for(read: Callable, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while (found := read()) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


# --- The pages ----------------------------------------------------------------


def _submit_without_browser_checks(page: Page, button: str) -> None:
    """Submit the main form as it is (the browser's own required-field checks off)."""
    page.get_by_role("button", name=button).evaluate("button => { button.form.noValidate = true; }")
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def _signup_errors(page: Page, site: dict) -> None:
    _submit_without_browser_checks(page, "Sign up")
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()


def _login_errors(page: Page, site: dict) -> None:
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("not-her-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-alert")).to_be_visible()


def _reset_errors(page: Page, site: dict) -> None:
    page.get_by_label("Email").fill("not-an-address")
    _submit_without_browser_checks(page, "Send reset link")
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()


def _password_change_errors(page: Page, site: dict) -> None:
    _submit_without_browser_checks(page, "Change password")
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()


def _delete_account_errors(page: Page, site: dict) -> None:
    _submit_without_browser_checks(page, "Delete my account")
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()


def _bank_page(page: Page, site: dict) -> None:
    pay_by_card(page, THREE_D_SECURE)
    expect(page.get_by_role("heading", name="Confirm your payment")).to_be_visible()


def _admin_action(action: str) -> Callable[[Page, dict], None]:
    def run(page: Page, site: dict) -> None:
        page.locator("#result_list tbody input.action-select").first.check()
        page.locator("select[name=action]").select_option(action)
        with page.expect_navigation():
            page.locator("button[name=index]").click()

    return run


def _too_many_codes(page: Page, site: dict) -> None:
    """Unknown codes from this address until the link page refuses to look any up."""
    try:
        for n in range(settings.AUTH_RATE_LIMIT):
            page.request.get(f"/r/UNKNOWN{n}/")
        page.reload()
        expect(page.get_by_role("heading", name="Too many invitation links")).to_be_visible()
    finally:
        # The counters are per address: every visitor here is 127.0.0.1.
        with site["db"].unblock():
            RateLimitBucket.objects.all().delete()


def _adjustment_errors(page: Page, site: dict) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Record adjustment").click()
    expect(page.locator(".errorlist").first).to_be_visible()


@dataclass(frozen=True)
class Visit:
    """A page: its test id, its path (``{name}`` from the data set), who looks at it,
    and what is done there first (a form sent back with errors, an admin action)."""

    id: str
    path: str
    who: str | None = None  # a key of site["sessions"]; None: not signed in
    then: Callable[[Page, dict], None] | None = None
    status: int = 200
    # A page no URL shows on its own (the server's error pages): served at ``path``
    # as the server sends it, this template rendered.
    template: str | None = None
    # Not the site's: what axe leaves out (CSS selectors).
    axe_exclude: tuple[str, ...] = ()


CUSTOMER_PAGES = [
    Visit("home", "/"),
    Visit("home-signed-in-with-message", "/r/{ada_code}/", who="ada"),
    Visit("catalog", "/products/"),
    Visit("catalog-search", "/products/?q=clean"),
    Visit("catalog-no-results", "/products/?q=no-such-title"),
    Visit("catalog-page-2", "/products/?page=2"),
    Visit("product", "/products/{clean_code}/"),
    Visit("product-bought", "/products/{clean_code}/", who="bob"),
    Visit("checkout", "/checkout/{refactoring}/", who="ada"),
    Visit(
        "checkout-bank-confirmation",
        "/checkout/{refactoring}/",
        who="linus",
        then=_bank_page,
        # The payment emulator's stand-in for the bank's window (Stripe's own frame
        # in production), added to the end of <body>: not the site's markup.
        axe_exclude=("body > div",),
    ),
    Visit("receipt", "/purchases/{purchase}/", who="bob"),
    Visit("purchase-history", "/purchases/", who="bob"),
    Visit("library", "/library/", who="bob"),
    Visit("dashboard", "/dashboard/", who="ada"),
    Visit("welcome", "/welcome/", who="bob"),
    Visit("referral-link", "/r/{ada_code}/"),
    Visit("referral-link-unknown", "/r/NOSUCHCODE/", status=404),
    Visit("sign-up", "/accounts/signup/"),
    Visit("sign-up-with-errors", "/accounts/signup/", then=_signup_errors),
    Visit("sign-in", "/accounts/login/"),
    Visit("sign-in-with-errors", "/accounts/login/", then=_login_errors),
    Visit("password-reset", "/accounts/password_reset/"),
    Visit("password-reset-with-errors", "/accounts/password_reset/", then=_reset_errors),
    Visit("password-reset-sent", "/accounts/password_reset/done/"),
    Visit("password-reset-new-password", "{reset}"),
    Visit("password-reset-link-expired", "/accounts/reset/MA/expired-token/"),
    Visit("password-reset-complete", "/accounts/reset/done/"),
    Visit("account-settings", "/accounts/settings/", who="bob"),
    Visit(
        "account-settings-delete-with-errors",
        "/accounts/settings/",
        who="bob",
        then=_delete_account_errors,
    ),
    Visit("password-change", "/accounts/password_change/", who="bob"),
    Visit(
        "password-change-with-errors",
        "/accounts/password_change/",
        who="bob",
        then=_password_change_errors,
    ),
    Visit("password-change-done", "/accounts/password_change/done/", who="bob"),
    Visit("referral-link-too-many-tries", "/r/NOSUCHCODE/", then=_too_many_codes),
    Visit("not-found", "/no-such-page/", status=404),
    Visit("server-error", "/__e2e__/500/", status=500, template="500.html"),
    Visit("database-outage", "/__e2e__/503/", status=503, template="503.html"),
]

ADMIN_PAGES = [
    Visit("admin-login", "/admin/login/"),
    Visit("admin-index", "/admin/", who="staff"),
    *(
        Visit(f"admin-app-{app}", f"/admin/{app}/", who="staff")
        for app in ("accounts", "auth", "backoffice", "catalog", "credits", "purchases")
    ),
    Visit("admin-users", "/admin/accounts/user/", who="staff"),
    Visit("admin-users-search", "/admin/accounts/user/?q=ada", who="staff"),
    Visit("admin-user-add", "/admin/accounts/user/add/", who="staff"),
    Visit("admin-user-change", "/admin/accounts/user/{bob}/change/", who="staff"),
    Visit("admin-user-activity", "/admin/accounts/user/{ada}/activity/", who="staff"),
    Visit("admin-user-activity-buyer", "/admin/accounts/user/{bob}/activity/", who="staff"),
    Visit("admin-user-history", "/admin/accounts/user/{bob}/history/", who="staff"),
    Visit("admin-user-delete", "/admin/accounts/user/{carol}/delete/", who="staff"),
    Visit("admin-groups", "/admin/auth/group/", who="staff"),
    Visit("admin-group-add", "/admin/auth/group/add/", who="staff"),
    Visit("admin-products", "/admin/catalog/product/", who="staff"),
    Visit("admin-product-add", "/admin/catalog/product/add/", who="staff"),
    Visit("admin-product-change", "/admin/catalog/product/{clean_code}/change/", who="staff"),
    Visit("admin-product-history", "/admin/catalog/product/{clean_code}/history/", who="staff"),
    Visit(
        "admin-product-change-category",
        "/admin/catalog/product/",
        who="staff",
        then=_admin_action("change_category"),
    ),
    Visit("admin-sales-analytics", "/admin/catalog/product/analytics/", who="staff"),
    Visit("admin-purchases", "/admin/purchases/purchase/", who="staff"),
    Visit("admin-purchase", "/admin/purchases/purchase/{purchase}/change/", who="staff"),
    Visit("admin-purchase-history", "/admin/purchases/purchase/{purchase}/history/", who="staff"),
    Visit("admin-payment-events", "/admin/purchases/paymentevent/", who="staff"),
    Visit("admin-payment-event", "/admin/purchases/paymentevent/{event}/change/", who="staff"),
    Visit("admin-credit-transactions", "/admin/credits/credittransaction/", who="staff"),
    Visit(
        "admin-credit-transaction", "/admin/credits/credittransaction/{entry}/change/", who="staff"
    ),
    Visit("admin-credit-adjustment", "/admin/credits/credittransaction/add/", who="staff"),
    Visit(
        "admin-credit-adjustment-with-errors",
        "/admin/credits/credittransaction/add/",
        who="staff",
        then=_adjustment_errors,
    ),
    Visit("admin-referral-reviews", "/admin/backoffice/referralreview/", who="staff"),
    Visit(
        "admin-referral-review", "/admin/backoffice/referralreview/{review}/change/", who="staff"
    ),
    Visit(
        "admin-referral-reject",
        "/admin/backoffice/referralreview/",
        who="staff",
        then=_admin_action("reject"),
    ),
    Visit("admin-password-change", "/admin/password_change/", who="staff"),
    Visit("admin-password-change-done", "/admin/password_change/done/", who="staff"),
]

PAGES = CUSTOMER_PAGES + ADMIN_PAGES


@pytest.fixture(scope="module")
def visitor_page(site, browser, live_site):
    """``visitor_page(who, bypass_csp=...)``: that visitor's browser page, 375 px wide.

    One page per visitor and policy for the whole module (the browser's cache
    keeps the static files), its cookies reset to just the visitor's session.
    """
    pages = {}

    def _page(who: str | None, *, bypass_csp: bool = False) -> Page:
        if (who, bypass_csp) not in pages:
            context = browser.new_context(base_url=live_site, viewport=PHONE, bypass_csp=bypass_csp)
            context.set_default_timeout(TIMEOUT_MS)
            if bypass_csp:
                # In every document the page opens, before the page's own scripts.
                context.add_init_script(path=AXE_SCRIPT)
            pages[who, bypass_csp] = context.new_page()
        page = pages[who, bypass_csp]
        page.context.clear_cookies()
        if who is not None:
            page.context.add_cookies(
                [{"name": "sessionid", "value": site["sessions"][who], "url": live_site}]
            )
        return page

    yield _page
    for page in pages.values():
        page.context.close()


def _open(request, visitor_page, site, visit: Visit, *, bypass_csp: bool = False) -> Page:
    ids = site["ids"]
    if missing := [name for name in re.findall(r"{(\w+)}", visit.path) if ids[name] is None]:
        pytest.skip(f"no {', '.join(missing)} in the data set (see the site fixture)")
    path = visit.path.format(**ids)
    page = visitor_page(visit.who, bypass_csp=bypass_csp)
    request.node._e2e_pages = [page]  # saved on failure (conftest.py)
    if visit.template is not None:
        body = render_to_string(visit.template)
        page.route(
            f"**{path}",
            lambda route: route.fulfill(
                status=visit.status, content_type="text/html; charset=utf-8", body=body
            ),
        )
    try:
        response = page.goto(path)
    finally:
        if visit.template is not None:
            page.unroute(f"**{path}")
    assert response is not None
    if visit.then is None:
        assert response.status == visit.status, f"{path} answered {response.status}"
    else:
        visit.then(page, site)
    expect(page.locator("main, #content").first).to_be_visible()
    return page


# --- Sideways scrolling on a phone ----------------------------------------------

# Elements sticking out of the window, outermost first: each one whose parent fits.
_TOO_WIDE = """
() => {
  const limit = window.innerWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    [...el.classList].slice(0, 3).map((c) => '.' + c).join('');
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      parts.unshift(name(e));
    }
    return parts.join(' > ');
  };
  const clipped = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const style = getComputedStyle(e);
      const fits = e.getBoundingClientRect().right <= limit + 0.5;
      if (style.overflowX !== 'visible' && fits) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const right = el.getBoundingClientRect().right;
    if (right <= limit + 0.5 || clipped(el)) continue;
    const parent = el.parentElement;
    if (parent && parent !== document.body && parent.getBoundingClientRect().right > limit + 0.5) {
      continue;
    }
    out.push(`${path(el)} (right edge at ${Math.round(right)} px)`);
    if (out.length >= 8) break;
  }
  return out;
}
"""


@pytest.mark.parametrize("visit", [pytest.param(v, id=v.id) for v in PAGES])
def test_page_fits_a_375_pixel_wide_screen(request, visitor_page, site, visit):
    page = _open(request, visitor_page, site, visit)
    assert page.evaluate("window.innerWidth") == PHONE["width"]

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    inner_width = page.evaluate("window.innerWidth")

    assert scroll_width <= inner_width, (
        f"{page.url} is {scroll_width} px wide on a {inner_width} px screen; sticking out:\n  "
        + "\n  ".join(page.evaluate(_TOO_WIDE))
    )


# --- axe-core -----------------------------------------------------------------

_AXE_RUN = """
async (exclude) => {
  const context = exclude.length ? { exclude: exclude.map((s) => [s]) } : document;
  const results = await axe.run(context, { resultTypes: ['violations'] });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(' ')),
  }));
}
"""

# Descriptions named by aria-describedby that are not on the page (help text, errors).
_MISSING_DESCRIPTIONS = """
() => [...document.querySelectorAll('[aria-describedby]')].flatMap((el) =>
  el.getAttribute('aria-describedby').split(/\\s+/)
    .filter((id) => id && !document.getElementById(id))
    .map((id) => `${el.tagName.toLowerCase()}[name=${el.getAttribute('name')}] -> #${id}`))
"""

# Every field marked invalid names its error message (aria-describedby), which exists.
_UNLINKED_ERRORS = """
() => [...document.querySelectorAll('[aria-invalid=true]')]
  .filter((field) => !(field.getAttribute('aria-describedby') || '').split(/\\s+/)
    .some((id) => id && document.getElementById(id)?.matches('.errorlist, .errorlist *')))
  .map((field) => field.name || field.id)
"""


@pytest.mark.parametrize("visit", [pytest.param(v, id=v.id) for v in PAGES])
def test_page_has_no_accessibility_violations(request, visitor_page, site, visit):
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run scripts/ensure-axe (make test does)")
    page = _open(request, visitor_page, site, visit, bypass_csp=True)

    violations = page.evaluate(_AXE_RUN, list(visit.axe_exclude))
    unlinked = page.evaluate(_UNLINKED_ERRORS)
    missing = page.evaluate(_MISSING_DESCRIPTIONS)

    assert violations == [], f"axe-core on {page.url}:\n" + "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["targets"][:10])
        for v in violations
    )
    assert unlinked == [], f"fields whose error is not linked (aria-describedby): {unlinked}"
    assert missing == [], f"aria-describedby names what is not on the page: {missing}"


# --- What the issue names besides: product titles as headings, announced messages ---


def _page(page_id: str) -> Visit:
    return next(visit for visit in PAGES if visit.id == page_id)


# Product cards whose title is not a heading (a list of products: every card's title is).
_CARDS_WITHOUT_HEADING = """
() => [...document.querySelectorAll('main .product-card')]
  .filter((card) => !card.querySelector('h1, h2, h3, h4, h5, h6, [role=heading]'))
  .map((card) => card.textContent.trim().split('\\n')[0])
"""


@pytest.mark.parametrize(
    ("page_id", "title"),
    [
        ("home", None),
        ("catalog", None),
        ("catalog-search", "Clean Code"),
        ("not-found", None),
        ("product", "Clean Code"),
        ("checkout", "Refactoring"),
        ("receipt", "Clean Code"),
        ("library", "Clean Code"),
    ],
)
def test_product_titles_are_headings(request, visitor_page, site, page_id, title):
    page = _open(request, visitor_page, site, _page(page_id))
    if title is not None:
        expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
    assert page.evaluate(_CARDS_WITHOUT_HEADING) == []


def test_messages_are_announced(request, visitor_page, site):
    # Ada, signed in, opens her own invite link: the site tells her why it does not apply.
    page = _open(request, visitor_page, site, _page("home-signed-in-with-message"))
    message = page.get_by_text("this invitation link does not apply to you")
    expect(message).to_be_visible()
    live = message.locator(
        "xpath=ancestor-or-self::*[@role='status' or @role='alert' or @aria-live]"
    )
    expect(live).to_have_count(1)


# --- Keyboard focus -------------------------------------------------------------

# The focused element's outline, and the colour behind it: the first opaque
# background among its ancestors (the outline is drawn outside the element).
_FOCUS_RING = """
(el) => {
  const rgba = (text) => {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const layers = [];
  for (let e = el.parentElement; e; e = e.parentElement) {
    const bg = rgba(getComputedStyle(e).backgroundColor);
    if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
  }
  let background = [255, 255, 255];
  for (const layer of layers.reverse()) background = over(layer, background);
  const style = getComputedStyle(el);
  const outline = rgba(style.outlineColor);
  return {
    element: el.outerHTML.slice(0, 120),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth) || 0,
    color: style.outlineColor,
    outline: outline ? over(outline, background) : null,
    background,
  };
}
"""


def _luminance(rgb) -> float:
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(
    ("page_id", "target"),
    [
        pytest.param("sign-in", ".site-header a", id="customer-header-link"),
        pytest.param("sign-in", "main a", id="customer-link"),
        pytest.param("sign-in", "main button", id="customer-button"),
        pytest.param("receipt", "main a", id="receipt-link"),
        pytest.param("admin-users", "#content a", id="admin-link"),
        pytest.param("admin-users", "#content button", id="admin-button"),
    ],
)
def test_keyboard_focus_is_visible_with_3_to_1_contrast(
    request, visitor_page, site, page_id, target
):
    page = _open(request, visitor_page, site, _page(page_id))
    # Tab from the top of the page to the first element that ``target`` matches.
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("target => document.activeElement.matches(target)", target):
            break
    else:
        pytest.fail(f"Tab never reached {target!r}")
    focused = page.evaluate_handle("document.activeElement")
    assert focused.evaluate("el => el.matches(':focus-visible')")

    ring = focused.evaluate(_FOCUS_RING)

    # "auto" is the browser's own ring (Chromium: 2 px, two-tone) in the colour reported.
    visible = ring["style"] == "auto" or (ring["style"] != "none" and ring["width"] >= 2)
    assert visible, f"no visible focus outline: {ring}"
    assert ring["outline"] is not None, f"outline colour not understood: {ring}"
    contrast = _contrast(ring["outline"], ring["background"])
    background = "rgb({}, {}, {})".format(*(round(c) for c in ring["background"]))
    assert contrast >= 3, (
        f"focus outline {ring['color']} on background {background}"
        f" has contrast {contrast:.2f}:1 (needs 3:1): {ring['element']}"
    )
