"""Money is Decimal, two places, end to end (ARCHITECTURE.md section 5)."""

from decimal import ROUND_HALF_UP, Decimal

from bson import Decimal128

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """Decimal128, a number or nothing as Decimal dollars and cents (None is 0.00)."""
    if value is None:
        value = Decimal("0")
    elif isinstance(value, Decimal128):
        value = value.to_decimal()
    elif not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
