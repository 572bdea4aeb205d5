"""Screenshots of the shop for the README, from a running `make run` site.

    make run                                    # in one terminal (fresh demo data is best)
    .venv/bin/python scripts/screenshots.py     # in another: writes docs/screenshots/*.png

Each page at 1280 and 375 pixels wide. It signs up two customers (unique
addresses, so it can run again), has the friend buy through the invite link
with the emulator's test card, and signs in as the demo staff account.
"""

import os
import re
import sys
import uuid
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.helpers import pay_by_card, sign_up  # noqa: E402

BASE = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
OUT = ROOT / "docs" / "screenshots"
WIDTHS = (1280, 375)
CHROMIUM = "/usr/bin/chromium"


def shoot(page, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(OUT / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:6]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)

        visitor = browser.new_context(base_url=BASE).new_page()
        visitor.goto("/")
        shoot(visitor, "landing")

        ada = browser.new_context(base_url=BASE).new_page()
        ada.goto("/accounts/signup/")
        sign_up(ada, name="Ada Lovelace", email=f"ada-{tag}@example.com")
        link = ada.locator("#referral-link").input_value()

        bob = browser.new_context(base_url=BASE).new_page()
        bob.goto(link)
        shoot(bob, "invite")
        bob.get_by_role("link", name=re.compile("^Sign up and claim")).click()
        sign_up(bob, name="Bob Byron", email=f"bob-{tag}@example.com")
        bob.goto("/products/?q=clean")
        bob.get_by_role("link", name="Clean Code").first.click()
        bob.get_by_role("link", name="Buy").click()
        shoot(bob, "checkout")
        pay_by_card(bob, "4242424242424242")
        expect(bob).to_have_url(re.compile(r"/purchases/[0-9a-f]{24}/$"))
        shoot(bob, "receipt")

        ada.goto("/dashboard/")
        shoot(ada, "dashboard")

        staff = browser.new_context(base_url=BASE).new_page()
        staff.goto("/admin/login/")
        staff.fill("#id_username", "admin@example.com")
        staff.fill("#id_password", "demo-admin-pass")
        staff.get_by_role("button", name=re.compile("Log in|Sign in")).click()
        staff.goto("/admin/")
        shoot(staff, "admin-overview")
        browser.close()
    print(f"screenshots written to {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
