"""Card payments in the browser through the emulator's Stripe.js: 3-D Secure approved or
refused, and a tab closed after confirming (the webhook completes the purchase)."""

import re
import time

import pytest
from playwright.sync_api import expect

from purchases.models import Purchase, PurchaseStatus
from tests.e2e.helpers import THREE_D_SECURE, pay_by_card, watch_for_page_errors
from tests.factories import UserFactory
from tests.shopping import give_credits

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def linus(transactional_db):
    """A customer with 1 credit."""
    return give_credits(UserFactory(name="Linus Pauling", email="linus@example.com"), 1)


def _to_the_bank(page, catalog):
    page.goto(f"/checkout/{catalog['Clean Code'].pk}/")
    expect(page.locator("#credits-used")).to_have_text("1")
    pay_by_card(page, THREE_D_SECURE)
    expect(page.get_by_role("heading", name="Confirm your payment")).to_be_visible()


def test_3ds_approved_completes_the_purchase(new_page, catalog, linus):
    page = new_page(user=linus)
    problems = watch_for_page_errors(page)
    _to_the_bank(page, catalog)

    page.get_by_role("button", name="Complete authentication").click()

    expect(page).to_have_url(re.compile(r"/purchases/[0-9a-f]{24}/$"))
    expect(page.locator("#status")).to_have_text("Completed")
    expect(page.locator(".receipt tr", has_text="Paid by card")).to_contain_text("$22.99")
    assert problems == []


def test_3ds_refused_fails_and_the_credits_stay(new_page, catalog, linus):
    page = new_page(user=linus)
    _to_the_bank(page, catalog)

    page.get_by_role("button", name="Fail authentication").click()

    # Back at checkout, credits choice kept, told what happened; nothing bought or spent.
    expect(page).to_have_url(re.compile(rf"/checkout/{catalog['Clean Code'].pk}/\?credits=1$"))
    expect(page.locator(".messages")).to_contain_text("Your payment was not confirmed")
    expect(page.locator("#balance")).to_have_text("1 credit")
    assert Purchase.objects.get().status == PurchaseStatus.FAILED


def test_a_tab_closed_after_confirming_is_completed_by_the_webhook(new_page, catalog, linus):
    page = new_page(user=linus)
    _to_the_bank(page, catalog)
    # The page never gets to report back: the tab is closed right after the bank said yes.
    page.route("**/payment/", lambda route: route.abort())

    page.get_by_role("button", name="Complete authentication").click()
    page.close()

    deadline = time.monotonic() + 15
    while Purchase.objects.get().status != PurchaseStatus.COMPLETED:
        assert time.monotonic() < deadline, "the webhook did not complete the purchase"
        time.sleep(0.2)
    linus.refresh_from_db()
    assert linus.credits == 0
