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

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from bson import ObjectId
from django.conf import settings
from django.db import connection
from django.utils import timezone
from pymongo.errors import DuplicateKeyError

from accounts.models import User
from catalog.models import Product
from credits.models import CreditTransaction, Kind
from credits.rules import credits_phrase, credits_value
from credits.services import InsufficientCredits, credits_grant, credits_spend
from purchases.emails import send_receipt
from purchases.gateways import (
    CardDeclined,
    Intent,
    PaymentError,
    StripeGateway,
    amount_to_cents,
    get_gateway,
)
from purchases.models import IN_FLIGHT_STATUSES, Purchase, PurchaseStatus
from referral_site.db.collections import collection
from referral_site.db.documents import document_for, saved, set_document
from referral_site.exceptions import ApplicationError
from referral_site.money import CENT
from referrals.conversion import (
    Evidence,
    referral_close_unrewarded,
    referral_convert_for_purchase,
    referral_reverse,
    referral_review_approve,
)
from referrals.models import NotRewarded, Signal
from referrals.selectors import referral_get

logger = logging.getLogger(__name__)

# Purchases whose first-purchase flag can still convert a referral.
SETTLED_STATUSES = (PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED)


class CheckoutError(ApplicationError):
    pass


class PaymentDeclined(CheckoutError):
    pass


class PaymentUnavailable(CheckoutError):
    """The payment provider failed; the purchase failed and its credits came back."""


class PaymentActionRequired(CheckoutError):
    """The card asks the customer to authenticate (3-D Secure) before it is charged."""

    def __init__(self, purchase: Purchase, *, client_secret: str):
        super().__init__("Your bank asks you to confirm this payment.")
        self.purchase = purchase
        self.client_secret = client_secret


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
    # The credit counts this purchase may use, smallest first (0 always among them).
    choices: tuple[int, ...]

    @property
    def max_credits(self) -> int:
        return self.choices[-1]

    @property
    def cash_cents(self) -> int:
        return amount_to_cents(self.cash_amount)


def max_credits_for(*, price: Decimal, balance: int) -> int:
    """The most credits a purchase may use: min(balance, floor(price / CREDIT_VALUE)).

    The one place this rule lives (ARCHITECTURE.md section 5): the quote
    enforces it, and the checkout form offers the choices it allows.
    """
    whole = (price / settings.CREDIT_VALUE).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, min(balance, int(whole)))


def credit_choices(*, price: Decimal, balance: int) -> tuple[int, ...]:
    """Whole credits up to ``max_credits_for``, leaving a card part the card can pay.

    The card part is zero or at least the payment provider's minimum charge
    (MINIMUM_CHARGE): with a $10.30 price and $10 credits, one credit would
    leave $0.30, which no card payment can be.
    """
    limit = max_credits_for(price=price, balance=balance)
    return tuple(
        n
        for n in range(limit + 1)
        if (cash := price - credits_value(n)) == 0 or cash >= settings.MINIMUM_CHARGE
    )


def checkout_quote(*, price: Decimal, balance: int, credits_used: int) -> Quote:
    """The split of ``price`` into credits and cash; raises on a credit count not allowed."""
    return _quote(price, balance, credits_used, credit_choices(price=price, balance=balance))


def _quote(price: Decimal, balance: int, credits_used: int, choices: tuple[int, ...]) -> Quote:
    credit_amount = credits_value(credits_used)
    cash_amount = (price - credit_amount).quantize(CENT)
    if credits_used < 0:
        raise CheckoutError("Credits cannot be negative.", field="credits")
    if credits_used > max_credits_for(price=price, balance=balance):
        limit = choices[-1]
        raise CheckoutError(
            f"You can use at most {credits_phrase(limit)} on this product.",
            field="credits",
        )
    if credits_used not in choices:
        raise CheckoutError(
            f"With {credits_used} credits, ${cash_amount} would be left to pay by card, less "
            f"than the ${settings.MINIMUM_CHARGE} card minimum. Use fewer credits.",
            field="credits",
        )
    return Quote(
        price=price.quantize(CENT),
        credits_used=credits_used,
        credit_amount=credit_amount,
        cash_amount=cash_amount,
        choices=choices,
    )


def checkout_preview(*, price: Decimal, balance: int, requested=None) -> Quote:
    """The quote to show for a credit count picked by the visitor (none yet: the most allowed).

    Anything that is not a whole number counts as 0, and a count that is not
    allowed becomes the nearest allowed one below it: the page always shows a price.
    """
    choices = credit_choices(price=price, balance=balance)
    if requested in (None, ""):
        wanted = choices[-1]
    else:
        try:
            wanted = int(requested)
        except (TypeError, ValueError):
            wanted = 0
    used = max((n for n in choices if n <= wanted), default=0)
    return _quote(price, balance, used, choices)


# --- Ledger keys of the purchases' credit movements (published for repairs) -----


def purchase_spend_key(purchase_id) -> str:
    return f"purchase-spend:{purchase_id}"


def purchase_spend_return_key(purchase_id) -> str:
    return f"purchase-spend-return:{purchase_id}"


def purchase_refund_key(purchase_id) -> str:
    return f"purchase-refund:{purchase_id}"


def _update_purchase(purchase_id, condition: dict, **values) -> bool:
    """One conditional update of a purchase through pymongo, as the ledger writes.

    The hot path's writes skip the ORM's query compilation; the values are
    stored as QuerySet.update() would store them (set_document). Raises
    DuplicateKeyError when a unique index refuses the change.
    """
    result = collection(Purchase).update_one(
        {"_id": purchase_id, **condition},
        {"$set": set_document(Purchase, values)},
        session=connection.session,
    )
    return result.matched_count == 1


def _move(purchase: Purchase, *, leaving, to: str, **fields) -> bool:
    """One conditional update: True only for the caller that made the move."""
    now = timezone.now()
    moved = _update_purchase(
        purchase.pk,
        {"status": {"$in": [str(status) for status in leaving]}},
        status=to,
        updated_at=now,
        **fields,
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
    payment_method_id: str = "",
    gateway: StripeGateway | None = None,
) -> Purchase:
    """Buy ``product`` for ``user`` once per checkout ``token``; return the purchase.

    The cash part is paid with ``payment_method_id``, made by Stripe.js in the
    browser. Raises CheckoutError (bad credits, no payment method: nothing
    recorded), PaymentDeclined or PaymentUnavailable (the purchase failed and
    its credits came back), PaymentActionRequired (the card asks for 3-D
    Secure) or PurchaseInProgress (the same intent is running).
    """
    quote = checkout_quote(price=product.price, balance=user.credits, credits_used=credits_used)
    purchase = Purchase(
        # The id is known before the insert: the PaymentIntent names it.
        pk=ObjectId(),
        user=user,
        product=product,
        product_name=product.title,
        amount=quote.price,
        credits_used=quote.credits_used,
        credit_amount=quote.credit_amount,
        cash_amount=quote.cash_amount,
        payment_method_id=_payment_method(quote, payment_method_id=payment_method_id),
        status=PurchaseStatus.PENDING,
        idempotency_key=f"{user.pk}:{token}",
    )
    intent = None
    if purchase.cash_amount > 0:
        # Created (not confirmed: nothing is charged) before the purchase is
        # stored, so the purchase is stored with its intent's id and every
        # later look finds it. Refused here, nothing at all is recorded.
        gateway = gateway or get_gateway()
        intent = _create_intent(purchase, gateway=gateway)
        purchase.payment_intent_id = intent.id
    try:
        collection(Purchase).insert_one(document_for(purchase), session=connection.session)
        saved(purchase)
    except DuplicateKeyError:
        # This intent was submitted before: its purchase is the answer.
        if intent is not None:
            _cancel_quietly(intent.id, gateway=gateway)
        existing = Purchase.objects.get(idempotency_key=purchase.idempotency_key)
        if existing.status in IN_FLIGHT_STATUSES and not _is_stale(existing):
            raise PurchaseInProgress(existing) from None
        return purchase_resume(purchase=existing, gateway=gateway, buyer=user)
    return _advance(purchase, buyer=user, gateway=gateway, confirm=True, intent=intent)


def _create_intent(purchase: Purchase, *, gateway: StripeGateway) -> Intent:
    try:
        return gateway.create_intent(
            amount=purchase.cash_amount,
            payment_method_id=purchase.payment_method_id,
            purchase_id=purchase.pk,
            idempotency_key=f"purchase:{purchase.pk}",
        )
    except CardDeclined as exc:
        raise PaymentDeclined(str(exc), field="payment_method_id") from None
    except PaymentError as exc:
        raise PaymentUnavailable(str(exc)) from None


def _cancel_quietly(intent_id: str, *, gateway: StripeGateway) -> None:
    """Cancel an intent that will never be confirmed; a failure leaves it unconfirmed, harmless."""
    with contextlib.suppress(PaymentError, CardDeclined):
        gateway.cancel_intent(intent_id)


def _payment_method(quote: Quote, *, payment_method_id: str) -> str:
    """What pays the cash part: the one place that says cash due needs a payment method."""
    if quote.cash_amount <= 0:
        return ""
    if not payment_method_id:
        raise CheckoutError("Enter your card details to pay the rest.", field="payment_method_id")
    return payment_method_id


def _is_stale(purchase: Purchase) -> bool:
    lease = timedelta(seconds=settings.CHECKOUT_LEASE_SECONDS)
    return purchase.updated_at < timezone.now() - lease


def _advance(
    purchase: Purchase,
    *,
    buyer: User,
    gateway: StripeGateway | None,
    confirm: bool,
    intent: Intent | None = None,
) -> Purchase:
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
        _charge(purchase, gateway=gateway or get_gateway(), confirm=confirm, intent=intent)
    if purchase.status in (*chargeable, PurchaseStatus.PAID):
        _complete(purchase, buyer=buyer)
    return purchase


def _charge(
    purchase: Purchase, *, gateway: StripeGateway, confirm: bool, intent: Intent | None
) -> None:
    """Returns once the purchase's PaymentIntent has succeeded for its cash part.

    The intent is created once (idempotency key ``purchase:<id>``) and its id
    recorded before it is confirmed, so every later look (the customer's
    return from 3-D Secure, a webhook, reconcile_credits) finds it. Raises
    after failing the purchase (credits returned) when the card is declined
    or the provider fails; PaymentActionRequired while the customer must
    authenticate. ``confirm`` False (a repair, not the customer) cancels an
    intent that was never confirmed instead of charging it.
    """
    try:
        intent = intent or _intent_for(purchase, gateway=gateway)
        if intent.status == "requires_confirmation":
            intent = (
                gateway.confirm_intent(intent.id) if confirm else gateway.cancel_intent(intent.id)
            )
    except CardDeclined as exc:
        purchase_fail(purchase=purchase, reason=str(exc))
        raise PaymentDeclined(str(exc), field="payment_method_id") from None
    except PaymentError as exc:
        if not confirm:
            raise  # a repair: leave the purchase as it is and ask again next time
        _give_up(purchase, gateway=gateway, reason="The payment service did not answer")
        raise PaymentUnavailable(str(exc)) from None
    if intent.awaiting_customer or intent.status == "processing":
        raise PaymentActionRequired(purchase, client_secret=intent.client_secret)
    if intent.succeeded and intent.matches(
        purchase_id=purchase.pk, cash_amount=purchase.cash_amount
    ):
        _note_card(purchase, intent, gateway=gateway)
        return
    if intent.succeeded:
        # Never complete on a payment that is not exactly this purchase's.
        logger.error("payment intent %s does not match purchase %s", intent.id, purchase.pk)
    reason = intent.error or "The payment was not completed"
    purchase_fail(purchase=purchase, reason=reason)
    raise PaymentDeclined(reason, field="payment_method_id")


def _note_card(purchase: Purchase, intent: Intent, *, gateway: StripeGateway) -> None:
    """Keep the card's fingerprint and last four digits, stored when the purchase completes.

    A webhook's intent names its payment method without the card: one more
    look at the provider then (best effort: the purchase completes regardless).
    """
    if not intent.card_fingerprint and intent.payment_method_id:
        try:
            intent = gateway.retrieve_intent(intent.id)
        except PaymentError:
            return
    purchase.card_fingerprint = intent.card_fingerprint[:64]
    purchase.card_last4 = intent.card_last4[:4]


def _intent_for(purchase: Purchase, *, gateway: StripeGateway) -> Intent:
    if purchase.payment_intent_id:
        return gateway.retrieve_intent(purchase.payment_intent_id)
    intent = gateway.create_intent(
        amount=purchase.cash_amount,
        payment_method_id=purchase.payment_method_id,
        purchase_id=purchase.pk,
        idempotency_key=f"purchase:{purchase.pk}",
    )
    # Recorded before anything is charged: a crash from here on leaves an id to ask about.
    _record_intent(purchase, intent.id)
    return intent


def _record_intent(purchase: Purchase, intent_id: str) -> None:
    """Give the purchase its PaymentIntent's id, once (the first recorded one stays)."""
    _update_purchase(
        purchase.pk, {"paymentIntentId": ""}, payment_intent_id=intent_id, updated_at=timezone.now()
    )
    purchase.payment_intent_id = purchase.payment_intent_id or intent_id


def _give_up(purchase: Purchase, *, gateway: StripeGateway, reason: str) -> None:
    """Fail the purchase (its credits come back) after cancelling its intent if we can.

    Should the payment still go through, its webhook finds the purchase failed
    and refunds it (purchase_payment_succeeded).
    """
    if purchase.payment_intent_id:
        _cancel_quietly(purchase.payment_intent_id, gateway=gateway)
    purchase_fail(purchase=purchase, reason=reason)


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
        if purchase.payment_intent_id:
            _cancel_quietly(purchase.payment_intent_id, gateway=get_gateway())
        raise
    return _move(purchase, leaving=[PurchaseStatus.PENDING], to=PurchaseStatus.CREDITS_RESERVED)


def _complete(purchase: Purchase, *, buyer: User) -> None:
    # PENDING only when no credits were used (nothing was reserved).
    leaving = [PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED, PurchaseStatus.PAID]
    fields = {
        "payment_intent_id": purchase.payment_intent_id,
        "card_fingerprint": purchase.card_fingerprint,
        "card_last4": purchase.card_last4,
    }
    try:
        # The partial unique index (one isFirstPurchase per user) decides
        # which of the user's purchases is the first to complete.
        first = completed = _move(
            purchase, leaving=leaving, to=PurchaseStatus.COMPLETED, is_first_purchase=True, **fields
        )
    except DuplicateKeyError:
        first = False
        completed = _move(purchase, leaving=leaving, to=PurchaseStatus.COMPLETED, **fields)
    if first:
        purchase_reward_referral(purchase=purchase, referrer_id=buyer.referred_by_id)
    if completed:
        # Only the caller that completed it, and only now that it is stored.
        send_receipt(purchase=purchase, buyer=buyer)


def purchase_qualifies_for_referral(purchase: Purchase) -> bool:
    """A first purchase converts a referral only when its cash part is at least
    REFERRAL_MIN_QUALIFYING_AMOUNT: credits alone, or a token amount, earn nothing."""
    return purchase.cash_amount >= settings.REFERRAL_MIN_QUALIFYING_AMOUNT


def purchase_card_evidence(*, purchase: Purchase, referrer_id: ObjectId) -> tuple[Evidence, ...]:
    """The purchase's abuse signal: paid with a card the referrer paid with.

    Checked by the referrals app in the command that checks the referrer's
    velocity (an indexed lookup on userId), not in one of its own.
    """
    if not purchase.card_fingerprint:
        return ()
    shared = {"userId": referrer_id, "cardFingerprint": purchase.card_fingerprint}
    return (Evidence(Signal.SAME_CARD.value, Purchase, shared),)


def _mark_awarded(purchase: Purchase) -> Callable[[], object]:
    def mark():
        _update_purchase(
            purchase.pk,
            {"referralCreditAwarded": False},
            referral_credit_awarded=True,
            updated_at=timezone.now(),
        )

    return mark


def purchase_reward_referral(*, purchase: Purchase, referrer_id: ObjectId | None) -> bool:
    """A referred buyer's first completed purchase converts their referral.

    The one place that decides it, for a checkout, a resumed purchase and a
    repair alike: the purchase must be the buyer's first to complete
    (isFirstPurchase, claimed through the partial unique index), settled, and
    not yet marked as awarded. The referrals app converts and awards (or
    sends it to review, with the card's signal from here); the purchase
    records that it did, in the same transaction where there are
    transactions. Safe to repeat; True when the purchase is now marked.
    """
    if not (
        referrer_id is not None
        and purchase.is_first_purchase
        and not purchase.referral_credit_awarded
        and purchase.status in SETTLED_STATUSES
    ):
        return False
    if not purchase_qualifies_for_referral(purchase):
        referral_close_unrewarded(
            referred_user_id=purchase.user_id, reason=NotRewarded.BELOW_MINIMUM
        )
        return False

    conversion = referral_convert_for_purchase(
        referred_user_id=purchase.user_id,
        referrer_id=referrer_id,
        purchase_id=purchase.pk,
        evidence=purchase_card_evidence(purchase=purchase, referrer_id=referrer_id),
        also=_mark_awarded(purchase),
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


def purchase_resume(
    *,
    purchase: Purchase,
    gateway: StripeGateway | None = None,
    buyer: User | None = None,
    confirm: bool = True,
    intent: Intent | None = None,
) -> Purchase:
    """Bring an interrupted purchase to an end: completed or failed, where it can.

    * pending, credits to spend but no spend recorded: nothing was taken (or
      a decrement was cut off before its ledger entry, which reconcile gives
      back): failed;
    * pending with the spend recorded: on to credits_reserved;
    * pending without credits, or credits_reserved: the PaymentIntent, as the
      provider reports it (``intent`` when a webhook brought it), decides:
      succeeded completes, declined or cancelled fails, waiting for the
      customer stays as it is (``confirm`` False cancels one never confirmed);
    * paid: complete;
    * completed but first and not yet awarded: convert and award (idempotent).
    """
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
            return _advance(purchase, buyer=buyer, gateway=gateway, confirm=confirm, intent=intent)
        except (PaymentDeclined, PaymentUnavailable, PaymentActionRequired):
            return purchase
    purchase_reward_referral(purchase=purchase, referrer_id=buyer.referred_by_id)
    return purchase


def purchase_awaiting_payment(purchase: Purchase) -> bool:
    """In flight with a PaymentIntent: the provider has the last word (3-D Secure, webhook)."""
    return purchase.status in IN_FLIGHT_STATUSES and bool(purchase.payment_intent_id)


def purchase_check_payment(
    *, purchase: Purchase, gateway: StripeGateway | None = None
) -> Intent | None:
    """Ask the provider about an in-flight purchase's payment and act on the answer.

    Succeeded: completed; declined, refused or cancelled: failed (credits
    back). Returns the intent when the customer still has to authenticate.
    Raises PaymentError when the provider cannot be asked.
    """
    if purchase.status not in IN_FLIGHT_STATUSES or not purchase.payment_intent_id:
        return None
    gateway = gateway or get_gateway()
    intent = gateway.retrieve_intent(purchase.payment_intent_id)
    if intent.succeeded:
        purchase_payment_succeeded(purchase=purchase, intent=intent, gateway=gateway)
    elif intent.failed:
        purchase_payment_failed(purchase=purchase, intent=intent)
    elif intent.awaiting_customer:
        return intent
    return None


def purchase_abandon(*, purchase: Purchase, gateway: StripeGateway | None = None) -> bool:
    """A payment left waiting for the customer too long: cancel it, fail the purchase.

    Raises PaymentError when the provider cannot be asked; a payment that
    succeeded meanwhile completes the purchase instead. True when failed now.
    """
    gateway = gateway or get_gateway()
    if purchase.status not in (PurchaseStatus.PENDING, PurchaseStatus.CREDITS_RESERVED):
        return False
    if purchase.payment_intent_id:
        intent = gateway.retrieve_intent(purchase.payment_intent_id)
        if intent.succeeded:
            purchase_resume(purchase=purchase, gateway=gateway, confirm=False, intent=intent)
            return False
        if not intent.failed:
            gateway.cancel_intent(intent.id)
    return purchase_fail(purchase=purchase, reason="The payment was not completed in time")


def purchase_payment_succeeded(
    *, purchase: Purchase, intent: Intent, gateway: StripeGateway | None = None
) -> Purchase:
    """The provider says this purchase's payment succeeded (webhook, or a look after 3-D Secure).

    In flight: completed. Already failed (given up on, declined meanwhile):
    the money goes back through the API at once and the case is logged, since
    the customer was told the purchase did not go through.
    """
    if not intent.matches(purchase_id=purchase.pk, cash_amount=purchase.cash_amount):
        logger.error("payment intent %s does not match purchase %s", intent.id, purchase.pk)
        return purchase
    if purchase.status in IN_FLIGHT_STATUSES:
        _record_intent(purchase, intent.id)
        return purchase_resume(purchase=purchase, gateway=gateway, intent=intent)
    if purchase.status == PurchaseStatus.FAILED:
        (gateway or get_gateway()).refund(
            intent_id=intent.id,
            amount=purchase.cash_amount,
            idempotency_key=f"late-payment-refund:{intent.id}",
        )
        logger.error(
            "payment %s succeeded after purchase %s had failed: refunded", intent.id, purchase.pk
        )
    return purchase


def purchase_payment_failed(*, purchase: Purchase, intent: Intent) -> bool:
    """The provider says this purchase's payment failed or was cancelled: fail it once."""
    if purchase.payment_intent_id and purchase.payment_intent_id != intent.id:
        return False  # an earlier, abandoned attempt's intent
    return purchase_fail(purchase=purchase, reason=intent.error or "The payment did not go through")


def purchase_refund(
    *, purchase: Purchase, actor: User | None, gateway: StripeGateway | None = None
) -> bool:
    """Refund: the card part through the provider, then completed -> refunded and the credits back.

    The provider's refund comes first, under an idempotency key, so a refund
    that fails records nothing (PaymentUnavailable, shown to staff) and a
    retry never refunds twice. A refunded first purchase reverses its
    referral's rewards (within REFERRAL_CLAWBACK_DAYS, see referrals.conversion).
    """
    if purchase.status != PurchaseStatus.COMPLETED:
        return False
    if purchase.cash_amount > 0 and purchase.payment_intent_id:
        try:
            (gateway or get_gateway()).refund(
                intent_id=purchase.payment_intent_id,
                amount=purchase.cash_amount,
                idempotency_key=purchase_refund_key(purchase.pk),
            )
        except (PaymentError, CardDeclined) as exc:
            raise PaymentUnavailable(str(exc)) from None
    return purchase_mark_refunded(purchase=purchase, actor=actor)


def purchase_mark_refunded(*, purchase: Purchase, actor: User | None = None) -> bool:
    """completed -> refunded and the credits it used come back (the card is refunded already)."""
    moved = _move(
        purchase,
        leaving=[PurchaseStatus.COMPLETED],
        to=PurchaseStatus.REFUNDED,
        refunded_at=timezone.now(),
    )
    if moved:
        purchase_refund_credits(purchase, actor_id=actor.pk if actor else None)
    if purchase.is_first_purchase:
        # Also on a repeat: it finishes a reversal a crash interrupted.
        purchase_reverse_referral(purchase)
    return moved


def purchase_reverse_referral(purchase: Purchase) -> bool:
    """A refunded first purchase takes its referral's rewards back (safe to repeat)."""
    return referral_reverse(referred_user_id=purchase.user_id, purchase_id=purchase.pk)


def purchase_review_approve(*, referral_id: ObjectId, staff: User) -> bool:
    """Staff approve a referral waiting for review: awarded once, its purchase marked."""
    referral = referral_get(referral_id=referral_id)
    first = (
        Purchase.objects.filter(user_id=referral.referred_user_id, is_first_purchase=True).first()
        if referral
        else None
    )
    return referral_review_approve(
        referral_id=referral_id,
        staff=staff,
        purchase_id=first.pk if first else None,
        also=_mark_awarded(first) if first else None,
    )


def purchase_flag_dispute(*, purchase: Purchase) -> bool:
    """The customer disputed the card payment: flag the purchase for staff, once."""
    return bool(
        Purchase.objects.filter(pk=purchase.pk, disputed_at__isnull=True).update(
            disputed_at=timezone.now(), updated_at=timezone.now()
        )
    )


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
