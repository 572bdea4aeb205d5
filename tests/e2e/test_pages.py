"""Focused browser checks: a declined card, catalog paging, a phone-sized screen."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from credits.services import credits_grant
from purchases.models import Purchase, PurchaseStatus
from referrals.models import Referral
from tests.e2e.helpers import (
    DECLINED,
    mark_document,
    pay_by_card,
    still_same_document,
    watch_for_page_errors,
)
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def grace(transactional_db):
    """A customer with 1 credit and one referred friend (so every dashboard block has rows)."""
    grace = UserFactory(name="Grace Hopper", email="grace@example.com")
    credits_grant(
        user_id=grace.pk,
        amount=1,
        kind="adjustment",
        idempotency_key=f"e2e-grant:{grace.pk}",
        reason="e2e test credit",
    )
    friend = UserFactory(name="Katherine Johnson", email="katherine@example.com", referred_by=grace)
    Referral.objects.create(referrer=grace, referred_user=friend)
    grace.refresh_from_db()
    return grace


def test_declined_card_shows_the_decline_and_neither_buys_nor_spends_credits(
    new_page, catalog, grace
):
    # Given: Grace at checkout, applying her 1 credit to Refactoring ($45.00).
    product = catalog["Refactoring"]
    page = new_page(user=grace)
    problems = watch_for_page_errors(page)
    page.goto(f"/checkout/{product.pk}/")
    page.get_by_label("Credits to use").select_option("1")
    expect(page.locator("#cash-amount")).to_have_text("$35.00")

    # When: she pays the rest with the card that is always declined.
    pay_by_card(page, DECLINED)

    # Then: the decline is shown on the checkout page, and nothing was bought or spent.
    expect(page.locator("#payment-error")).to_contain_text("Your card was declined.")
    expect(page.locator("#payment-error")).to_contain_text("Your credits were not used")
    expect(page).to_have_url(re.compile(rf"/checkout/{product.pk}/$"))
    expect(page.locator("#balance")).to_have_text("1 credit")
    expect(page.locator(".credits-badge")).to_have_text("1 credit")
    assert User.objects.get(pk=grace.pk).credits == 1
    assert not Purchase.objects.filter(user=grace, status=PurchaseStatus.COMPLETED).exists()
    page.goto(f"/products/{product.pk}/")
    expect(page.get_by_role("link", name="Buy")).to_be_visible()
    assert problems == []


def test_catalog_pages_through_results_in_place(new_page, catalog):
    # Given: 30 products, 24 a page.
    page = new_page()
    problems = watch_for_page_errors(page)
    page.goto("/products/")
    expect(page.locator(".results-count")).to_have_text("Showing 1\u201324 of 30 products")
    expect(page.locator("#results .product-card")).to_have_count(24)
    mark_document(page)

    # When: the visitor follows Next, then Previous.
    page.get_by_role("link", name="Next").click()

    # Then: each page of results is swapped in, and the address follows.
    expect(page.locator(".results-count")).to_have_text("Showing 25\u201330 of 30 products")
    expect(page.locator("#results .product-card")).to_have_count(6)
    expect(page.locator(".pagination")).to_contain_text("Page 2 of 2")
    expect(page).to_have_url(re.compile(r"/products/\?page=2$"))
    page.get_by_role("link", name="Previous").click()
    expect(page.locator(".results-count")).to_have_text("Showing 1\u201324 of 30 products")
    expect(page).to_have_url(re.compile(r"/products/(\?page=1)?$"))
    assert still_same_document(page)
    assert problems == []


def test_pages_fit_a_375_pixel_wide_phone_screen_without_sideways_scrolling(
    new_page, catalog, grace
):
    product = catalog["Clean Code"]
    page = new_page(user=grace, viewport={"width": 375, "height": 740})
    page.goto("/")
    assert page.evaluate("window.innerWidth") == 375
    too_wide = {}
    for path in (
        "/",
        "/products/",
        f"/products/{product.pk}/",
        f"/checkout/{product.pk}/",
        "/dashboard/",
    ):
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 375:
            too_wide[path] = width
    # The dashboard really rendered its tables at this size.
    expect(page.locator("#referrals tbody tr")).to_contain_text("Katherine Johnson")
    assert too_wide == {}
