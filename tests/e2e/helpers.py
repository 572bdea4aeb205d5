"""What the browser tests do on several pages."""

import re

from playwright.sync_api import Page, expect

# The emulator's test cards: charged; declined by the bank when charged; asks for
# 3-D Secure then charged.
VISA = "4242424242424242"
DECLINED = "4000000000000341"
THREE_D_SECURE = "4000002500003155"


def watch_for_page_errors(page: Page) -> list[str]:
    """Collect uncaught script errors and Content-Security-Policy refusals on ``page``."""
    problems = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return problems


def mark_document(page: Page) -> None:
    """Tag the current document; a full page load loses the tag, an htmx swap keeps it."""
    page.evaluate("window.__e2eSameDocument = true")


def still_same_document(page: Page) -> bool:
    return page.evaluate("window.__e2eSameDocument === true")


def sign_up(page: Page, *, name: str, email: str) -> None:
    # Django's labels end in a colon ("Name:"): match them by substring.
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-long-test-password-77")
    page.get_by_role("button", name="Sign up").click()
    # An invited friend lands on their welcome page, anyone else on their dashboard.
    expect(page).to_have_url(re.compile(r"/(dashboard|welcome)/$"))


def pay_by_card(page: Page, card_number: str) -> None:
    """Type the card into the (emulator's) Stripe.js card element and press Pay."""
    element = page.locator("#card-element")
    element.locator('input[placeholder="number"]').fill(card_number)
    element.locator('input[placeholder="exp_month"]').fill("12")
    element.locator('input[placeholder="exp_year"]').fill("34")  # two digits: it adds "20"
    element.locator('input[placeholder="cvc"]').fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
