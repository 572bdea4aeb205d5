"""The shop as a newcomer meets it, in Chromium: a shared invite link, Buy before an account."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import sign_up, watch_for_page_errors
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_invite_link_carries_its_preview_tags_and_leads_to_sign_up(
    new_page, live_site, transactional_db
):
    ada = UserFactory(name="Ada Lovelace", email="ada@example.com")
    page = new_page()
    problems = watch_for_page_errors(page)

    page.goto(f"/r/{ada.referral_code}/")

    def meta(key: str) -> str | None:
        return page.locator(f'meta[property="{key}"], meta[name="{key}"]').get_attribute("content")

    assert meta("og:title") == "Ada Lovelace invited you to Referral Store"
    assert meta("og:description").startswith("Give $20, get $20: get $20 in credits")
    assert meta("og:image") == f"{live_site}/offer.png"
    assert meta("twitter:card") == "summary_large_image"
    image = page.request.get(meta("og:image"))
    assert image.ok and image.headers["content-type"] == "image/png"
    page.get_by_role("link", name="Sign up and claim $20").click()
    expect(page.locator(".invited-by")).to_contain_text("Invited by Ada Lovelace")
    assert problems == []


def test_buy_before_having_an_account_signs_up_and_comes_back_to_checkout(
    new_page, catalog, live_site
):
    page = new_page()
    page.goto("/products/?q=clean")
    page.get_by_role("link", name="Clean Code").first.click()
    page.get_by_role("link", name="Buy").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))

    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/\?next=/checkout/"))
    page.get_by_label("Name").fill("Newcomer")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password").fill("a-long-test-password-77")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/checkout/[0-9a-f]{24}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")


def test_the_phone_menu_opens_and_the_catalog_filters_fold(new_page, catalog):
    page = new_page()
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/products/")

    catalog_link = page.get_by_role("link", name="Catalog", exact=True)
    expect(catalog_link).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(catalog_link).to_be_visible()
    expect(page.get_by_label("Category")).to_be_hidden()
    page.get_by_role("button", name="Filters").click()
    expect(page.get_by_label("Category")).to_be_visible()
    columns = page.evaluate(
        "getComputedStyle(document.querySelector('.product-grid')).gridTemplateColumns"
    )
    assert len(columns.split()) == 2  # two products a row


def test_sign_up_marks_the_invalid_field(new_page, live_site, transactional_db):
    page = new_page()
    page.goto("/accounts/signup/")
    sign_up_problems = watch_for_page_errors(page)
    page.get_by_label("Name").fill("Someone")
    page.get_by_label("Email").fill("someone@example.com")
    page.get_by_label("Password").fill("123")
    page.get_by_role("button", name="Sign up").click()

    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    border = password.evaluate("e => getComputedStyle(e).borderTopColor")
    assert border == "rgb(164, 22, 26)"  # var(--err)
    assert sign_up_problems == []


def test_a_signed_up_user_without_invitation_still_lands_on_the_dashboard(new_page, catalog):
    page = new_page()
    page.goto("/accounts/signup/")
    sign_up(page, name="Plain Visitor", email="plain@example.com")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def test_the_admin_opens_on_the_overview_with_the_figures_worked_out_by_hand(
    new_page, live_site, transactional_db
):
    from decimal import Decimal

    from credits.services import credits_grant
    from purchases.models import Purchase
    from tests.factories import ProductFactory

    def make_purchase(*, user, product, amount, credit_amount="0.00", status="completed"):
        amount, credit_amount = Decimal(amount), Decimal(credit_amount)
        Purchase.objects.create(
            user=user,
            product=product,
            product_name=product.title,
            amount=amount,
            credit_amount=credit_amount,
            credits_used=int(credit_amount // 10),
            cash_amount=amount - credit_amount,
            status=status,
        )

    staff = UserFactory(name="Staff", email="staff@example.com", is_staff=True, is_superuser=True)
    buyer = UserFactory(name="Buyer", email="buyer@example.com")
    book = ProductFactory(title="Book", price="20.00")
    make_purchase(user=buyer, product=book, amount="20.00", credit_amount="10.00")  # $10 card
    make_purchase(user=buyer, product=book, amount="5.50")  # $5.50 card
    make_purchase(user=buyer, product=book, amount="99.00", status="refunded")  # not revenue
    make_purchase(user=buyer, product=book, amount="42.00", status="failed")  # not revenue
    credits_grant(
        user_id=buyer.pk, amount=3, kind="adjustment", idempotency_key="e2e-ov", reason="seed"
    )
    page = new_page(user=staff)
    page.goto("/admin/")

    def figure(name: str) -> str:
        return page.locator(f'[data-figure="{name}"]').inner_text().strip()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Referral Store")
    # Today, this week and this month each hold both sales: $10.00 + $5.50.
    assert [figure(f"revenue-{n}") for n in (1, 2, 3)] == ["$15.50"] * 3
    assert [figure(f"sales-{n}") for n in (1, 2, 3)] == ["2"] * 3
    assert (figure("spendable-credits"), figure("spendable-value")) == ("3", "$30.00")
    assert figure("waiting-reviews") == "0"
    page.get_by_role("link", name="Sales analytics per product").click()
    expect(page).to_have_url(re.compile(r"/admin/catalog/product/analytics/"))
