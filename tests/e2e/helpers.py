"""What the browser tests do on several pages."""

import re

from playwright.sync_api import Page, expect

VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"


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
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def pay_by_card(page: Page, card_number: str) -> None:
    page.get_by_label("Card number").fill(card_number)
    page.get_by_label("Expiry (MM/YY)").fill("12/34")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay now").click()
