"""The customer's pages as the issue describes them, through the HTTP client."""

import re
from decimal import Decimal

import pytest

from tests.shopping import VISA, buy, card_as_browser, checkout_token

# --- Landing page -------------------------------------------------------------------


def test_the_landing_page_states_the_offer_in_dollars_from_the_settings(client, settings, db):
    settings.REFERRAL_REWARD_REFERRED = 3
    settings.REFERRAL_REWARD_REFERRER = 5
    settings.CREDIT_VALUE = Decimal("5.00")

    page = client.get("/").content.decode()

    assert "Give $15, get $25" in page
    assert "How it works" in page and page.count('class="step"') == 3
    assert "Sign up and get your link" in page


def test_signed_in_visitors_are_sent_to_share_their_link(client, user):
    client.force_login(user)

    page = client.get("/").content.decode()

    assert 'href="/dashboard/">Share your link</a>' in page
    assert "Sign up and get your link" not in page


def test_staff_featured_products_come_first_then_the_newest(client, product_factory):
    older = product_factory(title="Old Favourite", featured=True)
    newest = [product_factory(title=f"New {n}") for n in range(3)]

    page = client.get("/").content.decode()

    titles = re.findall(r'<h3 class="product-title">([^<]+)</h3>', page)
    assert titles[0] == older.title
    assert titles[1:4] == [p.title for p in reversed(newest)]


# --- Invite page ---------------------------------------------------------------------


def test_an_invite_link_previews_well_in_chat_apps(client, referrer):
    page = client.get(f"/r/{referrer.referral_code}/").content.decode()

    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', page))
    assert meta["og:title"] == "Grace Hopper invited you to Referral Store"
    assert "get $20 in credits on your first purchase of $5 or more" in meta["og:description"]
    assert meta["og:image"] == "http://testserver/offer.png"
    assert meta["og:url"] == f"http://testserver/r/{referrer.referral_code}/"
    assert meta["twitter:card"] == "summary_large_image"
    image = client.get("/offer.png")
    assert image["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")


def test_an_invited_friend_lands_on_a_page_written_for_them(client, referrer, signup_data):
    client.get(f"/r/{referrer.referral_code}/")

    response = client.post(
        "/accounts/signup/", {**signup_data, "referral_code": referrer.referral_code}, follow=True
    )

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/welcome/"
    assert "Grace Hopper invited you" in page and "<strong>$20</strong>" in page
    assert "Pending: your welcome reward comes with a first purchase of $5.00" in page


def test_someone_not_invited_lands_on_their_dashboard(client, signup_data, db):
    response = client.post("/accounts/signup/", signup_data)

    assert response["Location"] == "/dashboard/"


# --- Sign-in and sign-up ---------------------------------------------------------------


def test_a_signup_started_from_buy_keeps_its_way_back(client, product_factory, signup_data):
    product = product_factory()
    checkout = f"/checkout/{product.pk}/"

    login = client.get(checkout, follow=True)
    signup_link = re.search(r'href="(/accounts/signup/\?next=[^"]+)"', login.content.decode())
    signup_page = client.get(signup_link.group(1).replace("&amp;", "&"))
    done = client.post(signup_link.group(1).replace("&amp;", "&"), signup_data)

    assert login.redirect_chain[-1][0] == f"/accounts/login/?next={checkout}"
    assert f'name="next" value="{checkout}"' in signup_page.content.decode()
    assert done["Location"] == checkout


def test_an_address_with_an_account_offers_login_and_reset(client, user, signup_data):
    page = client.post(
        "/accounts/signup/?next=/library/", {**signup_data, "email": user.email}
    ).content.decode()

    assert 'aria-invalid="true"' in page and 'aria-describedby="id_email_error"' in page
    assert 'href="/accounts/login/?next=/library/">Log in</a>' in page
    assert 'href="/accounts/password_reset/">reset your password</a>' in page


def test_the_password_hint_is_short(client, db):
    page = client.get("/accounts/signup/").content.decode()

    assert "At least 8 characters; not a common password, not only digits." in page
    assert "can’t be too similar" not in page


# --- Catalog and 404 -------------------------------------------------------------------


def test_search_matches_authors_too(client, product_factory):
    product_factory(title="Refactoring", author="Martin Fowler")
    product_factory(title="Clean Code", author="Robert C. Martin")
    product_factory(title="Other", author="Someone")

    page = client.get("/products/?q=fowler").content.decode()

    assert re.findall(r'<h3 class="product-title">([^<]+)</h3>', page) == ["Refactoring"]


def test_a_missing_page_offers_search_and_popular_products(
    client, user, user_factory, product_factory, settings
):
    from django.core.cache import cache

    cache.clear()  # the popular list is cached for ten minutes: start from none
    settings.DEBUG = False
    best, other = product_factory(title="Best Seller"), product_factory(title="Other")
    buy(user, best)
    buy(user_factory(name="Second buyer"), best)
    buy(user, other)

    response = client.get("/no/such/page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert 'action="/products/"' in page and 'name="q"' in page
    titles = re.findall(r'<h3 class="product-title">([^<]+)</h3>', page)
    assert titles[:2] == ["Best Seller", "Other"]


# --- Checkout, receipts and history ------------------------------------------------------


def test_an_invited_friend_sees_the_pending_reward_at_checkout_and_on_the_receipt(
    client, referred, product_factory
):
    product = product_factory(price=Decimal("20.00"))
    client.force_login(referred)

    checkout = client.get(f"/checkout/{product.pk}/")
    done = client.post(
        f"/checkout/{product.pk}/",
        {"token": checkout_token(checkout), "credits": 0, "action": "pay", **VISA},
        follow=True,
    )

    assert "Your welcome reward: <strong>$20</strong> in credits" in checkout.content.decode()
    assert "you and the friend who invited you both earned credits" in done.content.decode()


def test_a_receipt_shows_a_short_order_number_and_the_cards_last_four(
    client, user, product_factory
):
    purchase = buy(user, product_factory(), **card_as_browser("5555555555554444"))
    client.force_login(user)

    page = client.get(f"/purchases/{purchase.pk}/").content.decode()

    assert f'id="order-number">{str(purchase.pk)[-8:].upper()}<' in page
    assert "(card ending 4444)" in page


def test_failed_attempts_are_hidden_from_the_customers_history(
    client, user, product_factory, staff_user
):
    from purchases.services import PaymentDeclined
    from tests.shopping import DECLINED

    buy(user, product_factory(title="Bought"))
    with pytest.raises(PaymentDeclined):
        buy(user, product_factory(title="Declined"), **DECLINED)
    client.force_login(user)

    history = client.get("/purchases/").content.decode()
    client.force_login(staff_user)
    admin = client.get("/admin/purchases/purchase/").content.decode()

    assert "Bought" in history and "Declined" not in history
    assert "Declined" in admin


# --- Dashboard --------------------------------------------------------------------------


def test_the_dashboard_leads_with_sharing_and_names_the_friend_in_the_statement(
    client, referrer, referred, product_factory
):
    buy(referred, product_factory(price=Decimal("20.00")))
    client.force_login(referrer)

    page = client.get("/dashboard/").content.decode()

    assert "Bob&#x27;s first purchase" in page
    assert page.index("Give $20, get $20") < page.index('id="stat-credits"')
    assert 'data-share-url="http://testserver/r/' in page  # the phone's share sheet
    assert page.count('class="button button-secondary share-button"') == 4
    assert 'id="stat-earned">2</span> worth $20.00' in page
