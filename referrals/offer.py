"""The programme's offer in the customer's words and dollars, from the settings.

Shown by the landing page, the invite page, the dashboard, sign-up, checkout
and receipts (through the ``offer`` template variable, see
``referrals.context_processors``), so every page states the same numbers.
"""

import io
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

from credits.rules import credits_value


def dollars(amount: Decimal) -> str:
    """``$20`` for whole dollars, ``$20.50`` otherwise."""
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"


@dataclass(frozen=True)
class Offer:
    referrer_credits: int
    friend_credits: int
    minimum: Decimal
    hold_days: int

    @property
    def referrer_value(self) -> str:
        return dollars(credits_value(self.referrer_credits))

    @property
    def friend_value(self) -> str:
        return dollars(credits_value(self.friend_credits))

    @property
    def minimum_value(self) -> str:
        return dollars(self.minimum)

    @property
    def headline(self) -> str:
        return f"Give {self.friend_value}, get {self.referrer_value}"

    @property
    def when(self) -> str:
        """When the rewards arrive, in one phrase."""
        purchase = f"their first purchase of {self.minimum_value} or more"
        if self.hold_days > 0:
            return f"{self.hold_days} days after {purchase} (the refund period)"
        return f"as soon as they make {purchase}"


def programme_offer() -> Offer:
    return Offer(
        referrer_credits=settings.REFERRAL_REWARD_REFERRER,
        friend_credits=settings.REFERRAL_REWARD_REFERRED,
        minimum=settings.REFERRAL_MIN_QUALIFYING_AMOUNT,
        hold_days=settings.REFERRAL_HOLD_DAYS,
    )


@lru_cache(maxsize=4)
def offer_card_png(offer: Offer) -> bytes:
    """A 1200x630 picture of the offer for link previews (Open Graph), drawn once per offer."""
    image = Image.new("RGB", (1200, 630), (11, 92, 173))
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=96)
    small = ImageFont.load_default(size=44)
    draw.text((80, 90), settings.SHOP_NAME, fill=(220, 234, 250), font=small)
    draw.text((80, 220), offer.headline, fill=(255, 255, 255), font=big)
    lines = [
        f"Your friend gets {offer.friend_value} in credits and you get {offer.referrer_value},",
        f"on their first purchase of {offer.minimum_value} or more.",
    ]
    for n, line in enumerate(lines):
        draw.text((80, 390 + n * 60), line, fill=(235, 242, 255), font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
