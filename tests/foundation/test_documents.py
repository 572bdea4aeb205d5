"""The ORM-free reads and writes of the hot paths match the ORM's exactly.

referral_site.db.documents turns documents into model instances and back;
the session store and the auth backend read through it. Each test compares
with what the ORM itself reads or writes, on the same database.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from bson import ObjectId
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.backends import EmailBackend
from accounts.models import User
from purchases.models import Purchase, PurchaseStatus
from referral_site.db.collections import collection
from referral_site.db.documents import document_for, instance_from, saved
from referral_site.sessions import SessionStore

pytestmark = pytest.mark.django_db


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_instance_from_reads_what_the_orm_reads(user_factory, mongo):
    referrer = user_factory()
    user = user_factory()
    User.objects.filter(pk=user.pk).update(
        referred_by=referrer, credits=7, held_credits=3, last_seen_at=timezone.now()
    )
    through_orm = User.objects.get(pk=user.pk)
    document = mongo.users.find_one({"_id": user.pk})

    built = instance_from(User, document)

    assert field_values(built) == field_values(through_orm)
    assert built._state.adding is False and built._state.db == "default"
    assert built.referred_by_id == referrer.pk
    assert built.check_password("correct-horse-battery")


def test_document_for_stores_what_the_orm_stores(user_factory, product_factory, mongo):
    buyer, product = user_factory(), product_factory(price=Decimal("19.99"))

    def purchase(key: str) -> Purchase:
        return Purchase(
            pk=ObjectId(),
            user=buyer,
            product=product,
            product_name=product.title,
            amount=Decimal("19.99"),
            credits_used=2,
            credit_amount=Decimal("2.00"),
            cash_amount=Decimal("17.99"),
            status=PurchaseStatus.PENDING,
            idempotency_key=key,
        )

    by_orm = purchase("a")
    by_orm.save(force_insert=True)
    by_hand = purchase("b")
    collection(Purchase).insert_one(document_for(by_hand))
    saved(by_hand)

    stored_orm = mongo.purchases.find_one({"_id": by_orm.pk})
    stored_hand = mongo.purchases.find_one({"_id": by_hand.pk})
    ignore = {"_id", "idempotencyKey", "createdAt", "updatedAt"}
    assert {k: v for k, v in stored_hand.items() if k not in ignore} == {
        k: v for k, v in stored_orm.items() if k not in ignore
    }
    assert set(stored_hand) == set(stored_orm)
    assert stored_hand["createdAt"] is not None  # auto_now_add ran
    assert by_hand._state.adding is False
    assert Purchase.objects.get(pk=by_hand.pk).cash_amount == Decimal("17.99")


def test_session_store_loads_a_live_session_and_nothing_else(user):
    live = SessionStore()
    live[SESSION_KEY] = str(user.pk)
    live.create()
    expired = SessionStore()
    expired["x"] = 1
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert SessionStore(live.session_key).load() == {SESSION_KEY: str(user.pk)}
    gone = SessionStore(expired.session_key)
    assert gone.load() == {}
    assert gone.session_key is None  # a new key is made on save, as Django's store does
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None


def test_sessions_round_trip_through_a_request(client, user):
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == user.pk
    assert settings.SESSION_ENGINE == "referral_site.sessions"


def test_get_user_refuses_unknown_bad_and_inactive(user_factory):
    backend = EmailBackend()
    active = user_factory()
    inactive = user_factory()
    User.objects.filter(pk=inactive.pk).update(is_active=False)

    assert backend.get_user(active.pk) == active
    assert backend.get_user(str(active.pk)).email == active.email
    assert backend.get_user(inactive.pk) is None
    assert backend.get_user(ObjectId()) is None
    assert backend.get_user("not-an-id") is None


def test_a_deactivated_user_is_signed_out_on_the_next_request(client, user):
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
