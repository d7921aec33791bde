"""Money arithmetic: Decimal only, one rounding rule.

Per-second rates carry 8 decimal places; charges are kept to the micro-dollar (6 places),
since a one-second CPU prediction costs $0.0001 and cents would round it to nothing.
"""

from decimal import ROUND_HALF_UP, Decimal

CURRENCY = "USD"
AMOUNT_MAX_DIGITS = 20
AMOUNT_DECIMAL_PLACES = 6
_AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)
# predict_time is measured in seconds with sub-millisecond noise; bill whole milliseconds.
_SECONDS_QUANTUM = Decimal("0.001")


def quantize_amount(value: Decimal) -> Decimal:
    """The one rounding helper for amounts: half up, to the micro-unit."""
    return value.quantize(_AMOUNT_QUANTUM, rounding=ROUND_HALF_UP)


def billable_seconds(predict_time: float) -> Decimal:
    return max(Decimal(0), Decimal(str(predict_time)).quantize(_SECONDS_QUANTUM, rounding=ROUND_HALF_UP))


def charge(*, seconds: Decimal, price_per_second: Decimal) -> Decimal:
    return quantize_amount(seconds * price_per_second)
