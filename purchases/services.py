"""Checkout: credits and card, the first-purchase conversion, refunds.

A purchase moves pending -> credits_reserved -> (paid) -> completed, or to
failed. Each move is one conditional update on the purchase (the filter names
the status it leaves), so of two concurrent callers exactly one makes a given
move and only that one performs the step that follows it. The idempotency key
``<userId>:<checkout token>`` (unique index) makes one purchase per checkout
intent: a double submit, a resubmit after Back, or a second tab with the same
token finds the purchase the first request made.

The order of steps keeps every interruption repairable (purchase_resume and
``manage.py reconcile_credits``):
1. insert the purchase (pending), with the payment method id already known;
2. spend the credits (credits service: guarded decrement, then ledger entry),
   then pending -> credits_reserved;
3. charge the card with idempotency key ``purchase:<id>`` (charging again for
   the same purchase returns the first result);
4. -> completed, claiming isFirstPurchase through the partial unique index;
5. if first and referred: convert the referral and award both users.
A failure after step 2 moves the purchase to failed first and then returns
the credits through the ledger under a key of its own, so that they come back
exactly once.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import User
from catalog.models import Product
from credits.models import CreditTransaction, Kind
from credits.services import InsufficientCredits, credits_grant, credits_spend
from purchases.gateways import PaymentGateway, get_gateway
from purchases.models import IN_FLIGHT_STATUSES, Purchase, PurchaseStatus
from referral_site.exceptions import ApplicationError
from referrals.conversion import referral_convert_for_first_purchase

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


class CheckoutError(ApplicationError):
    pass


class PaymentDeclined(CheckoutError):
    pass


class PurchaseInProgress(CheckoutError):
    """The same checkout intent is being processed by another request."""

    def __init__(self, purchase: Purchase):
        super().__init__("This purchase is already being processed.")
        self.purchase = purchase


@dataclass(frozen=True)
class Quote:
    price: Decimal
    credits_used: int
    credit_amount: Decimal
    cash_amount: Decimal
    max_credits: int


def max_credits_for(*, price: Decimal, balance: int) -> int:
    """min(balance, floor(price / CREDIT_VALUE)) (ARCHITECTURE.md section 5)."""
    whole = (price / settings.CREDIT_VALUE).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, min(balance, int(whole)))


def checkout_quote(*, price: Decimal, balance: int, credits_used: int) -> Quote:
    """The split of ``price`` into credits and cash; raises on a bad credit count."""
    limit = max_credits_for(price=price, balance=balance)
    if credits_used < 0:
        raise CheckoutError("Credits cannot be negative.", field="credits")
    if credits_used > limit:
        raise CheckoutError(f"You can use at most {limit} credit{'s' if limit != 1 else ''} "
                            f"on this product.", field="credits")
    credit_amount = (settings.CREDIT_VALUE * credits_used).quantize(CENT)
    cash_amount = (price - credit_amount).quantize(CENT)
    return Quote(price=price.quantize(CENT), credits_used=credits_used,
                 credit_amount=credit_amount, cash_amount=cash_amount, max_credits=limit)


def _spend_key(purchase_id) -> str:
    return f"purchase-spend:{purchase_id}"


def _return_key(purchase_id) -> str:
    return f"purchase-spend-return:{purchase_id}"


def _refund_key(purchase_id) -> str:
    return f"purchase-refund:{purchase_id}"


def _move(purchase: Purchase, *, leaving, to: str, **fields) -> bool:
    """One conditional update: True only for the caller that made the move."""
    now = timezone.now()
    moved = Purchase.objects.filter(pk=purchase.pk, status__in=list(leaving)).update(
        status=to, updated_at=now, **fields)
    if moved:
        purchase.status = to
        purchase.updated_at = now
        for name, value in fields.items():
            setattr(purchase, name, value)
    return bool(moved)


def purchase_checkout(*, user: User, product: Product, credits_used: int, token: str,
                      payment_method_id: str = "",
                      gateway: PaymentGateway | None = None) -> Purchase:
    """Buy ``product`` for ``user`` once per checkout ``token``; return the purchase.

    Raises CheckoutError (bad credits), PaymentDeclined (nothing kept: the
    credits are returned) or PurchaseInProgress (the same intent is running).
    """
    quote = checkout_quote(price=product.price, balance=user.credits,
                           credits_used=credits_used)
    if quote.cash_amount > 0 and not payment_method_id:
        raise CheckoutError("Enter your card details to pay the rest.", field="card_number")
    purchase = Purchase(
        user=user, product=product, product_name=product.title, amount=quote.price,
        credits_used=quote.credits_used, credit_amount=quote.credit_amount,
        cash_amount=quote.cash_amount,
        payment_method_id=payment_method_id if quote.cash_amount > 0 else "",
        status=PurchaseStatus.PENDING, idempotency_key=f"{user.pk}:{token}",
    )
    try:
        purchase.save(force_insert=True)
    except IntegrityError:
        # This intent was submitted before: its purchase is the answer.
        existing = Purchase.objects.get(idempotency_key=purchase.idempotency_key)
        if existing.status in IN_FLIGHT_STATUSES and not _is_stale(existing):
            raise PurchaseInProgress(existing) from None
        return purchase_resume(purchase=existing, gateway=gateway, buyer=user)
    return _advance(purchase, buyer=user, gateway=gateway or get_gateway())


def _is_stale(purchase: Purchase) -> bool:
    lease = timedelta(seconds=settings.CHECKOUT_LEASE_SECONDS)
    return purchase.updated_at < timezone.now() - lease


def _advance(purchase: Purchase, *, buyer: User, gateway: PaymentGateway) -> Purchase:
    if purchase.status == PurchaseStatus.PENDING and purchase.credits_used:
        if not _reserve_credits(purchase):
            # Someone else moved it (failed it after its lease ran out):
            # never charge on a status we no longer hold.
            purchase.refresh_from_db()
            return purchase
    # With no credits to spend there is nothing to reserve: pending goes
    # straight to the charge (one write fewer on the hot path).
    chargeable = (PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED)
    if purchase.status in chargeable and purchase.cash_amount > 0:
        result = gateway.charge(
            amount=purchase.cash_amount, currency="usd",
            payment_method_id=purchase.payment_method_id,
            idempotency_key=f"purchase:{purchase.pk}",
            metadata={"purchase_id": str(purchase.pk)},
        )
        if not result.succeeded:
            purchase_fail(purchase=purchase, reason=result.decline_message)
            raise PaymentDeclined(result.decline_message, field="card_number")
        purchase.payment_intent_id = result.payment_intent_id
    if purchase.status in (*chargeable, PurchaseStatus.PAID):
        _complete(purchase, buyer_referred=buyer.referred_by_id is not None)
    return purchase


def _reserve_credits(purchase: Purchase) -> bool:
    try:
        credits_spend(user_id=purchase.user_id, amount=purchase.credits_used,
                      idempotency_key=_spend_key(purchase.pk),
                      reason=f"Paid towards {purchase.product_name}",
                      purchase_id=purchase.pk)
    except InsufficientCredits:
        _move(purchase, leaving=[PurchaseStatus.PENDING], to=PurchaseStatus.FAILED,
              failure_reason="Not enough credits")
        raise
    return _move(purchase, leaving=[PurchaseStatus.PENDING], to=PurchaseStatus.CREDITS_RESERVED)


def _complete(purchase: Purchase, *, buyer_referred: bool) -> None:
    # PENDING only when no credits were used (nothing was reserved).
    leaving = [PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED, PurchaseStatus.PAID]
    fields = {"payment_intent_id": purchase.payment_intent_id}
    try:
        # The partial unique index (one isFirstPurchase per user) decides
        # which of the user's purchases is the first to complete.
        first = _move(purchase, leaving=leaving, to=PurchaseStatus.COMPLETED,
                      is_first_purchase=True, **fields)
    except IntegrityError:
        first = False
        _move(purchase, leaving=leaving, to=PurchaseStatus.COMPLETED, **fields)
    if first and buyer_referred and referral_convert_for_first_purchase(
            purchase_id=purchase.pk, buyer_id=purchase.user_id):
        purchase.referral_credit_awarded = True


def purchase_fail(*, purchase: Purchase, reason: str) -> bool:
    """In-flight -> failed, then the spent credits come back (exactly once)."""
    moved = _move(purchase, leaving=[PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED],
                  to=PurchaseStatus.FAILED, failure_reason=reason[:255])
    if moved:
        _return_spent_credits(purchase)
    return moved


def _return_spent_credits(purchase: Purchase) -> None:
    # Only what was really taken comes back: the spend's ledger entry says so.
    if purchase.credits_used and CreditTransaction.objects.filter(
            idempotency_key=_spend_key(purchase.pk)).exists():
        credits_grant(user_id=purchase.user_id, amount=purchase.credits_used, kind=Kind.REFUND,
                      idempotency_key=_return_key(purchase.pk),
                      reason=f"Returned: {purchase.product_name} was not completed",
                      purchase_id=purchase.pk)


def purchase_mark_paid(*, purchase: Purchase, payment_intent_id: str) -> bool:
    """The gateway says the card was charged (webhook): record it once."""
    return _move(purchase, leaving=[PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED],
                 to=PurchaseStatus.PAID, payment_intent_id=payment_intent_id)


def purchase_resume(*, purchase: Purchase, gateway: PaymentGateway | None = None,
                    buyer: User | None = None) -> Purchase:
    """Bring an interrupted purchase to an end: completed or failed.

    * pending, credits to spend but no spend recorded: nothing was taken (or
      a decrement was cut off before its ledger entry, which reconcile gives
      back): failed;
    * pending with the spend recorded: on to credits_reserved;
    * pending without credits, or credits_reserved: charge again with the same idempotency key (the
      gateway returns the first attempt's result), then complete or fail;
    * paid: complete;
    * completed but first and not yet awarded: convert and award (idempotent).
    """
    gateway = gateway or get_gateway()
    buyer = buyer or User.objects.get(pk=purchase.user_id)
    if purchase.status == PurchaseStatus.PENDING and purchase.credits_used:
        if CreditTransaction.objects.filter(idempotency_key=_spend_key(purchase.pk)).exists():
            _move(purchase, leaving=[PurchaseStatus.PENDING], to=PurchaseStatus.CREDITS_RESERVED)
        else:
            purchase_fail(purchase=purchase, reason="Interrupted before payment")
            return purchase
    if purchase.status in IN_FLIGHT_STATUSES:
        try:
            return _advance(purchase, buyer=buyer, gateway=gateway)
        except PaymentDeclined:
            return purchase
    if (purchase.status in (PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED)
            and purchase.is_first_purchase and not purchase.referral_credit_awarded
            and buyer.referred_by_id is not None
            and referral_convert_for_first_purchase(purchase_id=purchase.pk,
                                                    buyer_id=purchase.user_id)):
        purchase.referral_credit_awarded = True
    return purchase


def purchase_refund(*, purchase: Purchase, actor: User) -> bool:
    """Staff refund: completed -> refunded, and the credits it spent come back.

    Referral awards stay where they are (see the closing note on clawbacks);
    the card payment itself is refunded in the payment provider's dashboard.
    """
    moved = _move(purchase, leaving=[PurchaseStatus.COMPLETED], to=PurchaseStatus.REFUNDED,
                  refunded_at=timezone.now())
    if moved:
        _refund_credits(purchase, actor_id=actor.pk)
    return moved


def _refund_credits(purchase: Purchase, *, actor_id=None) -> None:
    if purchase.credits_used:
        credits_grant(user_id=purchase.user_id, amount=purchase.credits_used, kind=Kind.REFUND,
                      idempotency_key=_refund_key(purchase.pk),
                      reason=f"Refund of {purchase.product_name}", purchase_id=purchase.pk,
                      actor_id=actor_id)
