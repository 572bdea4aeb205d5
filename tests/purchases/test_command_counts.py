"""Database commands per checkout request: bounded, and not growing with the data."""

from decimal import Decimal

import pytest

from referral_site.db_monitoring import count_commands
from tests.shopping import VISA, checkout_token

# session, user, the product with "already bought?" (one command), and for an
# invited friend their referral (the welcome reward shown at their first checkout).
GET_BOUND = 4
# 10 before the programme's abuse checks, which may add at most 4 (issue 14);
# they add one: the velocity count (the referrer's conversions in 24 hours)
# with the card check (the referrer's purchases by this card) appended to it.
AWARD_POST_BOUND = 12


def _seed_history(user_factory, product_factory, n):
    from purchases.services import purchase_checkout

    buyer = user_factory(name="History")
    for i in range(n):
        purchase_checkout(
            user=buyer,
            product=product_factory(title=f"H{i}"),
            credits_used=0,
            token=f"{i:032x}",
            payment_method_id="pm_card_visa",
        )


@pytest.mark.parametrize("history", [0, 30])
def test_checkout_get_and_first_purchase_post_stay_within_their_bounds(
    client, referrer, referred, product_factory, user_factory, history
):
    _seed_history(user_factory, product_factory, history)
    product = product_factory(price=Decimal("32.99"))
    client.force_login(referred)

    with count_commands() as get_log:
        page = client.get(f"/checkout/{product.pk}/")
    with count_commands() as again_log:
        client.get(f"/checkout/{product.pk}/?credits=0")
    with count_commands() as post_log:
        response = client.post(
            f"/checkout/{product.pk}/",
            {"token": checkout_token(page), "credits": 0, "action": "pay", **VISA},
        )

    assert response.status_code == 302
    referred.refresh_from_db()
    assert referred.credits == 2  # the award path really ran
    assert len(get_log) <= GET_BOUND, get_log.names()
    assert len(again_log) <= GET_BOUND, again_log.names()
    assert len(post_log) <= AWARD_POST_BOUND, "\n".join(post_log.names())
