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

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import User
from catalog.models import Product
from credits.models import CreditTransaction, Kind
from credits.rules import credits_value
from credits.services import InsufficientCredits, credits_grant, credits_spend
from purchases.gateways import Card, CardError, PaymentGateway, get_gateway
from purchases.models import IN_FLIGHT_STATUSES, Purchase, PurchaseStatus
from referral_site.exceptions import ApplicationError
from referral_site.money import CENT
from referrals.conversion import referral_convert_for_purchase

# Purchases whose first-purchase flag can still convert a referral.
SETTLED_STATUSES = (PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED)


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
    """The most credits a purchase may use: min(balance, floor(price / CREDIT_VALUE)).

    The one place this rule lives (ARCHITECTURE.md section 5): the quote
    enforces it, and the checkout form offers the choices it allows.
    """
    whole = (price / settings.CREDIT_VALUE).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, min(balance, int(whole)))


def checkout_quote(*, price: Decimal, balance: int, credits_used: int) -> Quote:
    """The split of ``price`` into credits and cash; raises on a bad credit count."""
    limit = max_credits_for(price=price, balance=balance)
    if credits_used < 0:
        raise CheckoutError("Credits cannot be negative.", field="credits")
    if credits_used > limit:
        raise CheckoutError(
            f"You can use at most {limit} credit{'s' if limit != 1 else ''} on this product.",
            field="credits",
        )
    credit_amount = credits_value(credits_used)
    cash_amount = (price - credit_amount).quantize(CENT)
    return Quote(
        price=price.quantize(CENT),
        credits_used=credits_used,
        credit_amount=credit_amount,
        cash_amount=cash_amount,
        max_credits=limit,
    )


def checkout_preview(*, price: Decimal, balance: int, requested) -> Quote:
    """The quote to show for a credit count typed or picked by the visitor.

    Anything that is not a whole number counts as 0, and a count outside what
    the purchase allows is brought inside it: the page always shows a price.
    """
    try:
        wanted = int(requested)
    except (TypeError, ValueError):
        wanted = 0
    limit = max_credits_for(price=price, balance=balance)
    return checkout_quote(price=price, balance=balance, credits_used=min(max(wanted, 0), limit))


# --- Ledger keys of the purchases' credit movements (published for repairs) -----


def purchase_spend_key(purchase_id) -> str:
    return f"purchase-spend:{purchase_id}"


def purchase_spend_return_key(purchase_id) -> str:
    return f"purchase-spend-return:{purchase_id}"


def purchase_refund_key(purchase_id) -> str:
    return f"purchase-refund:{purchase_id}"


def _move(purchase: Purchase, *, leaving, to: str, **fields) -> bool:
    """One conditional update: True only for the caller that made the move."""
    now = timezone.now()
    moved = Purchase.objects.filter(pk=purchase.pk, status__in=list(leaving)).update(
        status=to, updated_at=now, **fields
    )
    if moved:
        purchase.status = to
        purchase.updated_at = now
        for name, value in fields.items():
            setattr(purchase, name, value)
    return bool(moved)


def purchase_checkout(
    *,
    user: User,
    product: Product,
    credits_used: int,
    token: str,
    card: Card | None = None,
    payment_method_id: str = "",
    gateway: PaymentGateway | None = None,
) -> Purchase:
    """Buy ``product`` for ``user`` once per checkout ``token``; return the purchase.

    The cash part is paid with ``payment_method_id`` (Stripe.js) or, on the
    test gateway, with the ``card`` typed into the form. Raises CheckoutError
    (bad credits, missing or unusable card details: nothing recorded),
    PaymentDeclined (nothing kept: the credits are returned) or
    PurchaseInProgress (the same intent is running).
    """
    gateway = gateway or get_gateway()
    quote = checkout_quote(price=product.price, balance=user.credits, credits_used=credits_used)
    purchase = Purchase(
        user=user,
        product=product,
        product_name=product.title,
        amount=quote.price,
        credits_used=quote.credits_used,
        credit_amount=quote.credit_amount,
        cash_amount=quote.cash_amount,
        payment_method_id=_payment_method(
            quote, gateway=gateway, card=card, payment_method_id=payment_method_id
        ),
        status=PurchaseStatus.PENDING,
        idempotency_key=f"{user.pk}:{token}",
    )
    try:
        purchase.save(force_insert=True)
    except IntegrityError:
        # This intent was submitted before: its purchase is the answer.
        existing = Purchase.objects.get(idempotency_key=purchase.idempotency_key)
        if existing.status in IN_FLIGHT_STATUSES and not _is_stale(existing):
            raise PurchaseInProgress(existing) from None
        return purchase_resume(purchase=existing, gateway=gateway, buyer=user)
    return _advance(purchase, buyer=user, gateway=gateway)


CARD_FIELDS_MISSING = {
    "card_number": "Enter your card number.",
    "card_expiry": "Enter the card's expiry date.",
    "card_cvc": "Enter the card's CVC.",
}


def _payment_method(
    quote: Quote, *, gateway: PaymentGateway, card: Card | None, payment_method_id: str
) -> str:
    """What pays the cash part: the one place that says cash due needs a payment method."""
    if quote.cash_amount <= 0:
        return ""
    if payment_method_id:
        return payment_method_id
    if not gateway.accepts_card_numbers:
        raise CheckoutError("A payment method is required.", field="payment_method_id")
    card = card or Card()
    given = {"card_number": card.number, "card_expiry": card.expiry, "card_cvc": card.cvc}
    missing = {name: message for name, message in CARD_FIELDS_MISSING.items() if not given[name]}
    if missing:
        raise CheckoutError(
            "Enter your card details to pay the rest.", field="card_number", errors=missing
        )
    month, year = card.expiry
    try:
        return gateway.create_payment_method(
            card_number=card.number, exp_month=month, exp_year=year, cvc=card.cvc
        )
    except CardError as exc:
        raise CheckoutError(str(exc), field="card_number") from None


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
            amount=purchase.cash_amount,
            currency="usd",
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
        credits_spend(
            user_id=purchase.user_id,
            amount=purchase.credits_used,
            idempotency_key=purchase_spend_key(purchase.pk),
            reason=f"Paid towards {purchase.product_name}",
            purchase_id=purchase.pk,
        )
    except InsufficientCredits:
        _move(
            purchase,
            leaving=[PurchaseStatus.PENDING],
            to=PurchaseStatus.FAILED,
            failure_reason="Not enough credits",
        )
        raise
    return _move(purchase, leaving=[PurchaseStatus.PENDING], to=PurchaseStatus.CREDITS_RESERVED)


def _complete(purchase: Purchase, *, buyer_referred: bool) -> None:
    # PENDING only when no credits were used (nothing was reserved).
    leaving = [PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED, PurchaseStatus.PAID]
    fields = {"payment_intent_id": purchase.payment_intent_id}
    try:
        # The partial unique index (one isFirstPurchase per user) decides
        # which of the user's purchases is the first to complete.
        first = _move(
            purchase, leaving=leaving, to=PurchaseStatus.COMPLETED, is_first_purchase=True, **fields
        )
    except IntegrityError:
        first = False
        _move(purchase, leaving=leaving, to=PurchaseStatus.COMPLETED, **fields)
    if first:
        purchase_reward_referral(purchase=purchase, buyer_referred=buyer_referred)


def purchase_reward_referral(*, purchase: Purchase, buyer_referred: bool) -> bool:
    """A referred buyer's first completed purchase converts their referral.

    The one place that decides it, for a checkout, a resumed purchase and a
    repair alike: the purchase must be the buyer's first to complete
    (isFirstPurchase, claimed through the partial unique index), settled, and
    not yet marked as awarded. The referrals app converts and awards; the
    purchase records that it did, in the same transaction where there are
    transactions. Safe to repeat; True when the purchase is now marked.
    """
    if not (
        buyer_referred
        and purchase.is_first_purchase
        and not purchase.referral_credit_awarded
        and purchase.status in SETTLED_STATUSES
    ):
        return False

    def mark_awarded():
        Purchase.objects.filter(pk=purchase.pk, referral_credit_awarded=False).update(
            referral_credit_awarded=True, updated_at=timezone.now()
        )

    conversion = referral_convert_for_purchase(
        referred_user_id=purchase.user_id, purchase_id=purchase.pk, also=mark_awarded
    )
    if conversion is not None:
        purchase.referral_credit_awarded = True
    return conversion is not None


def purchase_fail(*, purchase: Purchase, reason: str) -> bool:
    """In-flight -> failed, then the spent credits come back (exactly once)."""
    moved = _move(
        purchase,
        leaving=[PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED],
        to=PurchaseStatus.FAILED,
        failure_reason=reason[:255],
    )
    if moved:
        purchase_return_spent_credits(purchase)
    return moved


def purchase_return_spent_credits(purchase: Purchase) -> None:
    # Only what was really taken comes back: the spend's ledger entry says so.
    if (
        purchase.credits_used
        and CreditTransaction.objects.filter(
            idempotency_key=purchase_spend_key(purchase.pk)
        ).exists()
    ):
        credits_grant(
            user_id=purchase.user_id,
            amount=purchase.credits_used,
            kind=Kind.REFUND,
            idempotency_key=purchase_spend_return_key(purchase.pk),
            reason=f"Returned: {purchase.product_name} was not completed",
            purchase_id=purchase.pk,
        )


def purchase_mark_paid(*, purchase: Purchase, payment_intent_id: str) -> bool:
    """The gateway says the card was charged (webhook): record it once."""
    return _move(
        purchase,
        leaving=[PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED],
        to=PurchaseStatus.PAID,
        payment_intent_id=payment_intent_id,
    )


def purchase_resume(
    *, purchase: Purchase, gateway: PaymentGateway | None = None, buyer: User | None = None
) -> Purchase:
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
        spent = purchase_spend_key(purchase.pk)
        if CreditTransaction.objects.filter(idempotency_key=spent).exists():
            _move(purchase, leaving=[PurchaseStatus.PENDING], to=PurchaseStatus.CREDITS_RESERVED)
        else:
            purchase_fail(purchase=purchase, reason="Interrupted before payment")
            return purchase
    if purchase.status in IN_FLIGHT_STATUSES:
        try:
            return _advance(purchase, buyer=buyer, gateway=gateway)
        except PaymentDeclined:
            return purchase
    purchase_reward_referral(purchase=purchase, buyer_referred=buyer.referred_by_id is not None)
    return purchase


def purchase_refund(*, purchase: Purchase, actor: User) -> bool:
    """Staff refund: completed -> refunded, and the credits it spent come back.

    Referral awards stay where they are; the card payment itself is refunded
    in the payment provider's dashboard.
    """
    moved = _move(
        purchase,
        leaving=[PurchaseStatus.COMPLETED],
        to=PurchaseStatus.REFUNDED,
        refunded_at=timezone.now(),
    )
    if moved:
        purchase_refund_credits(purchase, actor_id=actor.pk)
    return moved


def purchase_refund_credits(purchase: Purchase, *, actor_id=None) -> None:
    if purchase.credits_used:
        credits_grant(
            user_id=purchase.user_id,
            amount=purchase.credits_used,
            kind=Kind.REFUND,
            idempotency_key=purchase_refund_key(purchase.pk),
            reason=f"Refund of {purchase.product_name}",
            purchase_id=purchase.pk,
            actor_id=actor_id,
        )
