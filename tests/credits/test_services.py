"""The ledger's services: grants, staff adjustments and the value of credits."""

from decimal import Decimal

import pytest

from credits.models import CreditTransaction, Kind
from credits.rules import credits_value
from credits.services import InsufficientCredits, credits_adjust, credits_grant
from referral_site.exceptions import ApplicationError
from tests.shopping import give_credits


def test_each_test_grant_is_a_grant_of_its_own(user):
    give_credits(user, 2)
    give_credits(user, 2)

    assert user.credits == 4
    assert CreditTransaction.objects.filter(user=user).count() == 2


def test_a_grant_under_a_key_already_recorded_changes_nothing(user):
    first = credits_grant(
        user_id=user.pk, amount=5, kind=Kind.ADJUSTMENT, idempotency_key="grant:once", reason="once"
    )
    second = credits_grant(
        user_id=user.pk, amount=5, kind=Kind.ADJUSTMENT, idempotency_key="grant:once", reason="once"
    )

    user.refresh_from_db()
    assert first is not None and second is None
    assert (user.credits, user.total_credits_earned) == (5, 5)


@pytest.mark.parametrize(
    ("amount", "reason", "field", "message"),
    [
        (0, "goodwill", "amount", "The adjustment cannot be zero."),
        (3, "   ", "reason", "A reason is required for a credit adjustment."),
    ],
)
def test_an_adjustment_breaking_a_rule_is_refused_on_its_field(
    user, staff_user, amount, reason, field, message
):
    with pytest.raises(ApplicationError) as refused:
        credits_adjust(
            user=user, amount=amount, reason=reason, actor=staff_user, idempotency_key="adjust:1"
        )

    assert (refused.value.field, refused.value.message) == (field, message)
    assert CreditTransaction.objects.count() == 0


def test_an_adjustment_cannot_take_a_balance_below_zero(user, staff_user):
    give_credits(user, 1)

    with pytest.raises(InsufficientCredits, match="The balance is 1: it cannot go below zero."):
        credits_adjust(
            user=user, amount=-2, reason="correction", actor=staff_user, idempotency_key="adjust:2"
        )

    user.refresh_from_db()
    assert user.credits == 1


@pytest.mark.parametrize(("credits", "value"), [(0, "0.00"), (1, "10.00"), (3, "30.00")])
def test_credits_are_worth_the_credit_value_each(credits, value):
    assert credits_value(credits) == Decimal(value)


def test_the_credit_value_comes_from_the_settings(settings):
    settings.CREDIT_VALUE = Decimal("2.50")

    assert credits_value(3) == Decimal("7.50")
