"""What a credit is worth (ARCHITECTURE.md section 5)."""

from decimal import Decimal

from django.conf import settings

from referral_site.money import CENT


def credits_phrase(n: int) -> str:
    """ "1 credit", "3 credits": how the site writes a number of credits."""
    return f"{n} credit{'' if n == 1 else 's'}"


def credits_value(credits: int) -> Decimal:
    """The value of ``credits`` in dollars at checkout: credits x CREDIT_VALUE, to the cent."""
    return (settings.CREDIT_VALUE * credits).quantize(CENT)
