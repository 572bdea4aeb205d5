"""The referral programme end to end, in Chromium, as two people use it."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CLEAN_CODE_FILE
from tests.e2e.helpers import (
    VISA,
    mark_document,
    pay_by_card,
    sign_up,
    still_same_document,
    watch_for_page_errors,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_friend_invited_by_link_buys_and_both_earn_credits_then_referrer_spends_them(
    new_page, catalog, live_site
):
    # Given: Ada signs up and copies her referral link from the dashboard.
    ada = new_page()
    ada_problems = watch_for_page_errors(ada)
    ada.goto("/accounts/signup/")
    sign_up(ada, name="Ada Lovelace", email="ada@example.com")
    expect(ada.locator("#stat-credits")).to_have_text("0")
    expect(ada.locator("#stat-converted")).to_have_text("0")
    link_field = ada.locator("#referral-link")
    expect(link_field).to_have_value(re.compile(rf"^{re.escape(live_site)}/r/[A-Z2-9]{{8}}/$"))
    link = link_field.input_value()
    ada.get_by_role("button", name="Copy link").click()
    expect(ada.locator("#copy-status")).to_have_text("Copied!")
    assert ada.evaluate("navigator.clipboard.readText()") == link

    # When: Bob opens the link in his own browser and signs up.
    bob = new_page()
    bob_problems = watch_for_page_errors(bob)
    bob.goto(link)
    expect(bob.get_by_role("heading", level=1)).to_have_text(
        "Ada Lovelace invited you to Referral Store"
    )
    bob.get_by_role("link", name="Sign up and claim $20").click()
    expect(bob).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(bob.locator(".invited-by")).to_contain_text("Invited by Ada Lovelace")
    sign_up(bob, name="Bob Byron", email="bob@example.com")
    expect(bob).to_have_url(re.compile(r"/welcome/$"))
    expect(bob.locator(".credits-badge")).to_have_text("0 credits")

    # ... finds Clean Code with the live search (results swapped in, no page load) ...
    bob.get_by_role("link", name="Catalog").click()
    expect(bob.locator(".results-count")).to_contain_text("of 30 products")
    mark_document(bob)
    bob.get_by_role("searchbox", name="Search titles").press_sequentially("clean", delay=40)
    expect(bob.locator(".results-count")).to_have_text("Showing 1\u20131 of 1 product")
    expect(bob.locator("#results .product-title")).to_have_text(["Clean Code"])
    expect(bob).to_have_url(re.compile(r"/products/\?q=clean"))
    assert still_same_document(bob)

    # ... and buys it by card.
    bob.get_by_role("link", name="Clean Code").click()
    expect(bob.get_by_role("heading", level=1)).to_have_text("Clean Code")
    bob.get_by_role("link", name="Buy").click()
    expect(bob.locator("#cash-amount")).to_have_text("$32.99")
    pay_by_card(bob, VISA)

    # Then: Bob's receipt, and his 2 credits in the header and on his dashboard.
    expect(bob).to_have_url(re.compile(r"/purchases/[0-9a-f]{24}/$"))
    expect(bob.locator("#status")).to_have_text("Completed")
    expect(bob.locator(".receipt")).to_contain_text(
        "you and the friend who invited you both earned credits"
    )
    expect(bob.locator(".credits-badge")).to_have_text("2 credits")
    # ... and downloads the book he bought, from the receipt.
    with bob.expect_download() as download:
        bob.get_by_role("link", name="Download clean-code.pdf").click()
    assert download.value.suggested_filename == "clean-code.pdf"
    assert Path(download.value.path()).read_bytes() == CLEAN_CODE_FILE
    bob.get_by_role("link", name="Dashboard").click()
    expect(bob.locator("#stat-credits")).to_have_text("2")

    # Then: Ada's dashboard shows one converted referral and 2 more credits.
    ada.reload()
    expect(ada.locator("#stat-total")).to_have_text("1")
    expect(ada.locator("#stat-converted")).to_have_text("1")
    expect(ada.locator("#stat-pending")).to_have_text("0")
    expect(ada.locator("#stat-credits")).to_have_text("2")
    expect(ada.locator("#stat-earned")).to_have_text("2")
    expect(ada.locator("#referrals tbody tr")).to_have_count(1)
    expect(ada.locator("#referrals tbody tr")).to_contain_text("Bob Byron")
    expect(ada.locator("#referrals tbody tr")).to_contain_text("Rewarded")
    expect(ada.locator(".credits-badge")).to_have_text("2 credits")

    # When: Ada buys Clean Code too, with her 2 credits at checkout.
    ada.goto(f"/products/{catalog['Clean Code'].pk}/")
    ada.get_by_role("link", name="Buy").click()
    expect(ada.locator("#balance")).to_have_text("2 credits")
    # The most credits she can use are already chosen.
    expect(ada.locator("#credits-used")).to_have_text("2")
    expect(ada.get_by_role("button", name="Pay $12.99")).to_be_visible()
    mark_document(ada)
    ada.get_by_label("Credits to use").select_option("0")
    expect(ada.locator("#cash-amount")).to_have_text("$32.99")
    expect(ada.get_by_role("button", name="Pay $32.99")).to_be_visible()
    ada.get_by_label("Credits to use").select_option("2")
    # The breakdown is recomputed by the server and swapped in before paying.
    expect(ada.locator("#credits-used")).to_have_text("2")
    expect(ada.locator("#credit-amount")).to_have_text("−$20.00")
    expect(ada.locator("#cash-amount")).to_have_text("$12.99")
    assert still_same_document(ada)
    pay_by_card(ada, VISA)

    # Then: her receipt splits the price between credits and card, and she has none left.
    expect(ada.locator("#status")).to_have_text("Completed")
    receipt = ada.locator(".receipt")
    expect(receipt.locator("tr", has_text="Price")).to_contain_text("$32.99")
    expect(receipt.locator("tr", has_text="Paid with credits")).to_contain_text(
        "2 credits ($20.00)"
    )
    expect(receipt.locator("tr", has_text="Paid by card")).to_contain_text("$12.99")
    expect(ada.locator(".credits-badge")).to_have_text("0 credits")

    assert ada_problems == []
    assert bob_problems == []
