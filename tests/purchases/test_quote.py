"""The most credits a purchase may use: one rule, enforced by the quote, offered by the form."""

import re
from decimal import Decimal

import pytest

from purchases.services import CheckoutError, checkout_preview, checkout_quote, max_credits_for
from tests.shopping import give_credits


@pytest.mark.parametrize(
    ("price", "balance", "limit"),
    [
        ("32.99", 5, 3),  # the price allows 3 whole credits
        ("32.99", 2, 2),  # the balance allows 2
        ("9.99", 5, 0),  # less than one credit's worth
        ("40.00", 9, 4),  # exactly four credits
    ],
)
def test_the_limit_is_the_smaller_of_balance_and_whole_credits_in_the_price(price, balance, limit):
    assert max_credits_for(price=Decimal(price), balance=balance) == limit


def test_the_quote_refuses_more_than_the_limit(db):
    with pytest.raises(CheckoutError) as refused:
        checkout_quote(price=Decimal("32.99"), balance=5, credits_used=4)

    assert refused.value.field == "credits"
    assert refused.value.message == "You can use at most 3 credits on this product."


@pytest.mark.parametrize(
    ("requested", "used"),
    [
        ("2", 2),
        ("99", 3),
        ("-4", 0),
        ("two", 0),
        (None, 3),  # nothing picked yet: the most credits usable
        ("", 3),
    ],
)
def test_the_preview_shows_a_price_for_whatever_was_requested(requested, used):
    quote = checkout_preview(price=Decimal("32.99"), balance=5, requested=requested)

    assert (quote.credits_used, quote.max_credits) == (used, 3)
    assert quote.cash_amount == Decimal("32.99") - 10 * used


def test_the_checkout_form_offers_exactly_the_credits_the_rule_allows(
    client, user, product_factory
):
    product = product_factory(price=Decimal("32.99"))
    give_credits(user, 5)
    client.force_login(user)

    page = client.get(f"/checkout/{product.pk}/?credits=99").content.decode()

    offered = [int(v) for v in re.findall(r'<option value="(\d+)"', page)]
    assert offered == [0, 1, 2, 3]


def test_the_credit_options_mark_the_credits_in_use(client, user, product_factory):
    product = product_factory(price=Decimal("32.99"))
    give_credits(user, 5)
    client.force_login(user)

    page = client.get(f"/checkout/{product.pk}/?credits=2").content.decode()

    assert (
        '<option value="0">0 credits ($0.00)</option>'
        '<option value="1">1 credit ($10.00)</option>'
        '<option value="2" selected>2 credits ($20.00)</option>'
        '<option value="3">3 credits ($30.00)</option>'
    ) in page
