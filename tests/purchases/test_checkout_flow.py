from decimal import Decimal

from django.core import mail
from django.db import connection

from credits.models import CreditTransaction
from purchases.models import Purchase
from referrals.models import Referral
from tests.shopping import DECLINED, VISA, checkout_token, give_credits


def test_schema_sample_32_99_with_2_credits_is_20_in_credits_and_12_99_cash(buy, user, clean_code):
    give_credits(user, 5)

    response = buy(user, clean_code, credits=2)

    purchase = Purchase.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == f"/purchases/{purchase.pk}/"
    doc = connection.database.purchases.find_one({"_id": purchase.pk})
    assert doc["amount"].to_decimal() == Decimal("32.99")
    assert doc["creditsUsed"] == 2
    assert doc["creditAmount"].to_decimal() == Decimal("20.00")
    assert doc["cashAmount"].to_decimal() == Decimal("12.99")
    assert doc["paymentMethodId"].startswith("pm_")
    assert doc["status"] == "completed"
    assert doc["isFirstPurchase"] is True
    assert doc["referralCreditAwarded"] is False
    user.refresh_from_db()
    assert user.credits == 3
    spend = CreditTransaction.objects.get(user=user, kind="spend")
    assert (spend.amount, spend.balance_after, spend.purchase_id) == (-2, 3, purchase.pk)


def test_checkout_page_shows_price_balance_and_the_credit_limit(client, user, clean_code):
    give_credits(user, 5)
    client.force_login(user)

    response = client.get(f"/checkout/{clean_code.pk}/?credits=2")

    html = response.content.decode()
    assert response.status_code == 200
    assert "$32.99" in html
    assert "5 credits" in html
    assert "Up to 3 credits on this product." in html
    assert '<td id="cash-amount"><strong>$12.99</strong></td>' in html


def test_htmx_credit_change_returns_only_the_breakdown(client, user, clean_code):
    give_credits(user, 5)
    client.force_login(user)

    response = client.get(
        f"/checkout/{clean_code.pk}/?credits=3",
        headers={"HX-Request": "true", "HX-Target": "breakdown"},
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="breakdown"')
    assert "<form" not in html
    assert '<td id="credit-amount">−$30.00</td>' in html
    assert "$2.99" in html
    assert "HX-Request" in response["Vary"]


def test_preview_without_javascript_re_renders_the_breakdown(client, user, clean_code):
    give_credits(user, 5)
    client.force_login(user)
    token = checkout_token(client.get(f"/checkout/{clean_code.pk}/"))

    response = client.post(
        f"/checkout/{clean_code.pk}/", {"token": token, "credits": 1, "action": "preview"}
    )

    assert response.status_code == 200
    assert '<td id="cash-amount"><strong>$22.99</strong></td>' in response.content.decode()
    assert not Purchase.objects.exists()


def test_more_credits_than_the_balance_is_a_field_error(buy, user, clean_code):
    give_credits(user, 1)

    response = buy(user, clean_code, credits=2)

    assert response.status_code == 200
    assert "Choose a whole number of credits from 0 to 1." in response.content.decode()
    assert not Purchase.objects.exists()
    user.refresh_from_db()
    assert user.credits == 1


def test_more_credits_than_the_price_allows_is_a_field_error(buy, user, product_factory):
    cheap = product_factory(price=Decimal("15.00"))
    give_credits(user, 5)

    response = buy(user, cheap, credits=2)

    assert "Choose a whole number of credits from 0 to 1." in response.content.decode()
    assert not Purchase.objects.exists()


def test_negative_and_non_numeric_credits_are_field_errors(buy, user, clean_code):
    give_credits(user, 5)

    for bad in ("-1", "two", "1.5"):
        response = buy(user, clean_code, credits=bad)
        assert response.status_code == 200
        assert "Choose a whole number of credits from 0 to 3." in response.content.decode()
    assert not Purchase.objects.exists()


def test_cash_due_without_a_payment_method_is_a_field_error(buy, user, clean_code):
    response = buy(user, clean_code, card={})

    assert "Enter your card details to pay the rest." in response.content.decode()
    assert not Purchase.objects.exists()


def test_the_server_takes_no_card_numbers(client, buy, user, clean_code):
    client.force_login(user)
    page = client.get(f"/checkout/{clean_code.pk}/").content.decode()

    response = buy(user, clean_code, card={"card_number": "4242424242424242", "card_cvc": "123"})

    assert 'name="card_number"' not in page and 'name="card_cvc"' not in page
    assert "Enter your card details to pay the rest." in response.content.decode()
    assert not Purchase.objects.exists()


def test_declined_card_shows_its_error_keeps_credits_and_completes_nothing(buy, user, clean_code):
    give_credits(user, 5)

    response = buy(user, clean_code, credits=2, card=DECLINED)

    assert response.status_code == 402
    assert "Your card was declined." in response.content.decode()
    purchase = Purchase.objects.get(user=user)
    assert purchase.status == "failed"
    assert purchase.failure_reason == "Your card was declined."
    assert not purchase.is_first_purchase
    user.refresh_from_db()
    assert user.credits == 5
    ledger = sorted(CreditTransaction.objects.filter(user=user).values_list("kind", "amount"))
    assert ledger == [("adjustment", 5), ("refund", 2), ("spend", -2)]


def test_fully_credit_paid_purchase_needs_no_card(buy, user, product_factory):
    ten = product_factory(price=Decimal("10.00"))
    give_credits(user, 1)

    buy(user, ten, credits=1, card={})

    purchase = Purchase.objects.get(user=user)
    assert (purchase.status, purchase.cash_amount, purchase.payment_method_id) == (
        "completed",
        Decimal("0.00"),
        "",
    )
    user.refresh_from_db()
    assert user.credits == 0


def award_mails():
    """The referral-award e-mails sent (each purchase also sends its buyer a receipt)."""
    return [m for m in mail.outbox if "made a first purchase" in m.subject]


def test_first_purchase_of_a_referred_user_converts_and_awards_both_once(
    buy, referrer, referred, clean_code, product_factory
):
    buy(referred, clean_code)

    purchase = Purchase.objects.get(user=referred)
    referral = Referral.objects.get(referred_user=referred)
    referrer.refresh_from_db()
    referred.refresh_from_db()
    assert purchase.is_first_purchase and purchase.referral_credit_awarded
    assert referral.status == "converted" and referral.credits_awarded
    assert referral.converted_at is not None
    assert (referrer.credits, referrer.total_credits_earned) == (2, 2)
    assert (referred.credits, referred.total_credits_earned) == (2, 2)
    assert len(award_mails()) == 1
    assert award_mails()[0].to == ["alice@example.com"]
    assert award_mails()[0].subject == "Bob Buyer made a first purchase: you earned 2 credits"

    buy(referred, product_factory(title="Second"))

    second = Purchase.objects.get(user=referred, product_name="Second")
    referrer.refresh_from_db()
    referred.refresh_from_db()
    assert not second.is_first_purchase and not second.referral_credit_awarded
    assert (referrer.credits, referred.credits) == (2, 2)
    assert CreditTransaction.objects.filter(kind__startswith="referral_reward").count() == 2
    assert len(award_mails()) == 1


def test_first_purchase_without_a_referral_awards_nothing(buy, user, clean_code):
    buy(user, clean_code)

    purchase = Purchase.objects.get(user=user)
    user.refresh_from_db()
    assert purchase.is_first_purchase and not purchase.referral_credit_awarded
    assert user.credits == 0
    assert not CreditTransaction.objects.exists()
    assert award_mails() == []
    assert [m.to for m in mail.outbox] == [[user.email]]  # the receipt only


def test_double_submit_of_the_same_form_makes_one_purchase(client, buy, user, clean_code):
    first = buy(user, clean_code)
    token_reuse = client.post(
        f"/checkout/{clean_code.pk}/",
        {
            "token": Purchase.objects.get().idempotency_key.split(":")[1],
            "credits": 0,
            "action": "pay",
            **VISA,
        },
    )

    assert Purchase.objects.count() == 1
    assert token_reuse["Location"] == first["Location"]


def test_two_tabs_share_the_checkout_intent(client, user, clean_code):
    client.force_login(user)
    tab_one = checkout_token(client.get(f"/checkout/{clean_code.pk}/"))
    tab_two = checkout_token(client.get(f"/checkout/{clean_code.pk}/"))

    assert tab_one == tab_two
    for token in (tab_one, tab_two):
        client.post(
            f"/checkout/{clean_code.pk}/", {"token": token, "credits": 0, "action": "pay", **VISA}
        )
    assert Purchase.objects.count() == 1
    # A new visit after the purchase: the product is owned, so its receipt.
    purchase = Purchase.objects.get()
    assert client.get(f"/checkout/{clean_code.pk}/").url == f"/purchases/{purchase.pk}/"


def test_checkout_requires_sign_in_and_a_real_product(client, user, clean_code):
    response = client.get(f"/checkout/{clean_code.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/checkout/")

    client.force_login(user)
    assert client.get("/checkout/not-an-id/").status_code == 404
    assert client.get("/checkout/0123456789abcdef01234567/").status_code == 404


def test_losing_the_credits_to_another_tab_lets_the_corrected_form_go_through(
    client, user, clean_code, monkeypatch
):
    from credits.services import credits_spend
    from purchases import views
    from purchases.services import purchase_checkout

    give_credits(user, 2)
    client.force_login(user)
    page = client.get(f"/checkout/{clean_code.pk}/")

    def other_tab_wins_the_race(**kwargs):
        # Another tab spends the credits after this request passed validation.
        credits_spend(user_id=user.pk, amount=2, idempotency_key="other-tab", reason="tab")
        monkeypatch.setattr(views, "purchase_checkout", purchase_checkout)
        return purchase_checkout(**kwargs)

    monkeypatch.setattr(views, "purchase_checkout", other_tab_wins_the_race)
    refused = client.post(
        f"/checkout/{clean_code.pk}/",
        {"token": checkout_token(page), "credits": 2, "action": "pay", **VISA},
    )
    retried = client.post(
        f"/checkout/{clean_code.pk}/",
        {"token": checkout_token(refused), "credits": 0, "action": "pay", **VISA},
    )

    assert "You do not have enough credits for that." in refused.content.decode()
    assert checkout_token(refused) != checkout_token(page)
    assert Purchase.objects.get(status="failed").failure_reason == "Not enough credits"
    assert retried.status_code == 302
    completed = Purchase.objects.get(status="completed")
    assert retried["Location"] == f"/purchases/{completed.pk}/"
    assert (completed.credits_used, completed.cash_amount) == (0, Decimal("32.99"))
