"""The stored documents and indexes match schema.md, read back with pymongo."""

from decimal import Decimal

import pytest
from bson import Decimal128, ObjectId
from django.db import connection

from purchases.models import Purchase
from referrals.models import Referral


@pytest.fixture
def mongo(db):
    connection.ensure_connection()
    return connection.database


def _index_keys(collection):
    return {
        tuple((field, direction) for field, direction in index["key"].items()): index
        for index in collection.list_indexes()
    }


def test_users_collection_has_the_documented_indexes(mongo):
    indexes = _index_keys(mongo.users)

    assert indexes[(("clerkUserId", 1),)]["unique"] is True
    assert indexes[(("referralCode", 1),)]["unique"] is True


def test_referrals_collection_has_the_documented_indexes(mongo):
    indexes = _index_keys(mongo.referrals)

    assert not indexes[(("referrerId", 1),)].get("unique")
    assert indexes[(("referredUserId", 1),)]["unique"] is True
    assert not indexes[(("status", 1),)].get("unique")
    assert indexes[(("referrerId", 1), ("referredUserId", 1))]["unique"] is True


def test_purchases_collection_has_the_documented_indexes(mongo):
    indexes = _index_keys(mongo.purchases)

    assert (("userId", 1),) in indexes
    assert (("productId", 1),) in indexes
    assert (("createdAt", -1),) in indexes
    assert (("isFirstPurchase", 1),) in indexes


def test_products_collection_has_the_documented_indexes(mongo):
    indexes = _index_keys(mongo.products)

    assert (("category", 1),) in indexes
    assert (("price", 1),) in indexes
    assert (("title", "text"),) in indexes


def test_stored_documents_use_the_documented_names_and_types(mongo, user_factory, product_factory):
    referrer = user_factory(name="Referrer")
    buyer = user_factory(name="Buyer", referred_by=referrer)
    product = product_factory(
        title="Clean Code", price=Decimal("32.99"), image_url="https://example.com/clean-code.jpg"
    )
    Referral.objects.create(referrer=referrer, referred_user=buyer)
    Purchase.objects.create(
        user=buyer,
        product=product,
        product_name=product.title,
        amount=Decimal("32.99"),
        credits_used=2,
        credit_amount=Decimal("20.00"),
        cash_amount=Decimal("12.99"),
        payment_method_id="pm_1234567890",
        is_first_purchase=True,
        referral_credit_awarded=True,
    )

    user_doc = mongo.users.find_one({"_id": buyer.pk})
    referral_doc = mongo.referrals.find_one({"referredUserId": buyer.pk})
    purchase_doc = mongo.purchases.find_one({"userId": buyer.pk})
    product_doc = mongo.products.find_one({"_id": product.pk})

    expected = {
        "users": (
            user_doc,
            {
                "_id": ObjectId,
                "clerkUserId": str,
                "referralCode": str,
                "name": str,
                "credits": int,
                "totalCreditsEarned": int,
                "totalReferredUsers": int,
                "referredBy": ObjectId,
                "createdAt": object,
                "updatedAt": object,
            },
        ),
        "referrals": (
            referral_doc,
            {
                "_id": ObjectId,
                "referrerId": ObjectId,
                "referredUserId": ObjectId,
                "status": str,
                "creditsAwarded": bool,
                "createdAt": object,
                "updatedAt": object,
            },
        ),
        "purchases": (
            purchase_doc,
            {
                "_id": ObjectId,
                "userId": ObjectId,
                "productId": ObjectId,
                "productName": str,
                "amount": Decimal128,
                "creditsUsed": int,
                "creditAmount": Decimal128,
                "cashAmount": Decimal128,
                "paymentMethodId": str,
                "isFirstPurchase": bool,
                "referralCreditAwarded": bool,
                "createdAt": object,
                "updatedAt": object,
            },
        ),
        "products": (
            product_doc,
            {
                "_id": ObjectId,
                "title": str,
                "description": str,
                "author": str,
                "price": Decimal128,
                "category": str,
                "imageUrl": str,
                "createdAt": object,
                "updatedAt": object,
            },
        ),
    }
    for collection, (document, fields) in expected.items():
        for name, kind in fields.items():
            assert name in document, f"{collection}.{name} missing"
            assert isinstance(document[name], kind), f"{collection}.{name}: {document[name]!r}"
    assert user_doc["referralCode"] == buyer.referral_code
    assert user_doc["referredBy"] == referrer.pk
    assert referral_doc["status"] == "pending"
    assert referral_doc["creditsAwarded"] is False
    assert purchase_doc["amount"].to_decimal() == Decimal("32.99")
    assert purchase_doc["creditAmount"].to_decimal() + purchase_doc[
        "cashAmount"
    ].to_decimal() == Decimal("32.99")
    assert product_doc["category"] == "ebook"
    for document in (user_doc, referral_doc, purchase_doc, product_doc):
        assert document["createdAt"].__class__.__name__ == "datetime"


def test_sessions_expire_through_a_ttl_index(mongo):
    indexes = _index_keys(mongo.django_session)

    assert indexes[(("expire_date", 1),)]["expireAfterSeconds"] == 0
