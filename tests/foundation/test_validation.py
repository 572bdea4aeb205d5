"""Every validation rule of schema.md is rejected with its message."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from catalog.models import Product
from purchases.models import Purchase
from referrals.models import Referral


def _errors(instance, exclude=None) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        instance.full_clean(exclude=exclude, validate_unique=False)
    return info.value.message_dict


def _valid_product(**overrides) -> Product:
    fields = {
        "title": "Clean Code",
        "description": "A handbook",
        "author": "Robert C. Martin",
        "price": Decimal("32.99"),
        "category": "ebook",
    }
    return Product(**{**fields, **overrides})


def test_product_price_cannot_be_negative():
    assert _errors(_valid_product(price=Decimal("-0.01")))["price"] == ["Price cannot be negative."]


@pytest.mark.parametrize("field", ["title", "author", "description"])
def test_product_text_fields_are_required(field):
    assert _errors(_valid_product(**{field: ""}))[field] == ["This field cannot be blank."]


def test_product_title_and_author_are_trimmed_and_whitespace_alone_is_rejected():
    product = _valid_product(title="  Clean Code  ", author="  Bob ")
    product.full_clean(validate_unique=False)
    assert (product.title, product.author) == ("Clean Code", "Bob")

    assert _errors(_valid_product(title="   "))["title"] == ["This field cannot be blank."]


def test_product_category_must_be_one_of_the_five():
    message = _errors(_valid_product(category="music"))["category"]
    assert message == ["Value 'music' is not a valid choice."]


def _valid_user(**overrides) -> User:
    fields = {
        "clerk_user_id": "user_2abc123def456",
        "referral_code": "ABC123XY",
        "name": "John Doe",
        "email": "john@example.com",
    }
    return User(**{**fields, **overrides})


@pytest.mark.parametrize("code", ["abc123xy", "ABC123X", "ABC123XYZ", "ABC-23XY"])
def test_referral_code_must_be_eight_upper_case_characters(code):
    errors = _errors(_valid_user(referral_code=code), exclude=["password"])
    assert "A referral code is exactly 8 upper-case letters or digits." in errors["referral_code"]


@pytest.mark.parametrize("field", ["clerk_user_id", "referral_code", "name"])
def test_user_required_fields(field):
    errors = _errors(_valid_user(**{field: ""}), exclude=["password"])
    assert errors[field] == ["This field cannot be blank."]


def test_user_name_is_trimmed():
    user = _valid_user(name="  John Doe ")
    user.full_clean(exclude=["password"], validate_unique=False)
    assert user.name == "John Doe"


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("credits", "Credits"),
        ("total_credits_earned", "Total credits earned"),
        ("total_referred_users", "Total referred users"),
    ],
)
def test_user_counters_cannot_be_negative(field, label):
    errors = _errors(_valid_user(**{field: -1}), exclude=["password"])
    assert errors[field] == [f"{label} cannot be negative."]


def test_referral_status_must_be_pending_or_converted(user_factory):
    referral = Referral(referrer=user_factory(), referred_user=user_factory(), status="lost")
    assert _errors(referral)["status"] == ["Value 'lost' is not a valid choice."]


def test_referral_needs_both_users():
    errors = _errors(Referral(status="pending"))
    assert errors["referrer"] == ["This field cannot be null."]
    assert errors["referred_user"] == ["This field cannot be null."]


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("amount", "Amount"),
        ("credit_amount", "Credit amount"),
        ("cash_amount", "Cash amount"),
    ],
)
def test_purchase_money_cannot_be_negative(user_factory, product_factory, field, label):
    purchase = Purchase(
        user=user_factory(), product=product_factory(), product_name="X", amount=Decimal("1.00")
    )
    setattr(purchase, field, Decimal("-1.00"))
    assert _errors(purchase)[field] == [f"{label} cannot be negative."]


def test_purchase_credits_used_cannot_be_negative(user_factory, product_factory):
    purchase = Purchase(
        user=user_factory(),
        product=product_factory(),
        product_name="X",
        amount=Decimal("1.00"),
        credits_used=-2,
    )
    assert _errors(purchase)["credits_used"] == ["Credits used cannot be negative."]


def test_purchase_requires_product_name_and_amount(user_factory, product_factory):
    purchase = Purchase(user=user_factory(), product=product_factory())
    errors = _errors(purchase)
    assert errors["product_name"] == ["This field cannot be blank."]
    assert errors["amount"] == ["This field cannot be null."]
