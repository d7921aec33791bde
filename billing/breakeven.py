"""Per-second billing against a reserved machine, worked out from one account's own usage.

The guide Hearth is built from ends with "Replicate vs self-hosting": per-second billing wins
below roughly 4-6 hours of continuous GPU use a day, a reserved GPU above it. For each SKU an
account used in the last `WINDOW_DAYS` days this says how many hours a day it computed, what a
month of that costs per second, what the operator asks for a reserved machine of the SKU
(`Hardware.reserved_monthly_price`, empty unless set in the admin), and the hours a day at which
the two cost the same.

One reserved machine gives 24 hours a day; an account whose SKU averages more runs several at
once, so the reserved side is priced as the machines the average needs (`reserved_machines`, at
least one), as if the work packed onto them perfectly: peaks above the average are not known here.

A month is `MONTH_DAYS` = 30 days everywhere here, the length of the window, so a month at the
window's average is exactly the window's seconds: average hours/day x 3600 x price/s x 30 =
window seconds x price/s. Prices are today's SKU prices (a projection, not what was billed).
The window is the UTC day of `now` and the 29 before it; the running day counts as a whole one,
so the average errs low while a day is young.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import ceil
from typing import Literal

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from billing.models import Hardware, UsageRecord
from billing.money import quantize_amount

WINDOW_DAYS = 30
MONTH_DAYS = 30
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR
# Hours are shown to the 0.36 s: enough that a few seconds a day are not rounded to nothing.
_HOURS_QUANTUM = Decimal("0.0001")

Cheaper = Literal["per_second", "reserved", "equal"]


def quantize_hours(value: Decimal) -> Decimal:
    return value.quantize(_HOURS_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DayOfUse:
    date: date
    seconds: Decimal  # billed seconds on this SKU that UTC day, exact
    hours: Decimal  # the same, in hours (rounded)


@dataclass(frozen=True)
class SkuBreakeven:
    sku: str
    name: str
    price_per_second: Decimal
    days: list[DayOfUse]  # every day of the window, oldest first, days without use included
    seconds: Decimal  # the window's billed seconds
    average_hours_per_day: Decimal
    per_second_monthly_cost: Decimal  # a month at the average, billed per second
    reserved_monthly_price: Decimal | None  # one machine
    reserved_machines: int  # the machines the average needs: 24 hours a day each, at least one
    reserved_monthly_cost: Decimal | None  # that many machines reserved for a month
    # reserved price / (price per second x 3600 x 30), per machine; None without a reserved
    # price or when the SKU is free per second (never worth reserving)
    breakeven_hours_per_day: Decimal | None
    # which costs less at the average; None without a reserved price to compare
    cheaper: Cheaper | None


@dataclass(frozen=True)
class Breakeven:
    window_start: date
    window_end: date
    skus: list[SkuBreakeven]  # the SKUs used in the window, most hours first


def window_days(now: datetime) -> list[date]:
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=WINDOW_DAYS - 1 - n) for n in range(WINDOW_DAYS)]


def breakeven_hours_per_day(*, reserved_monthly_price: Decimal, price_per_second: Decimal) -> Decimal | None:
    """The hours of use a day at which a month billed per second costs the reserved price."""
    per_hour_of_daily_use = price_per_second * SECONDS_PER_HOUR * MONTH_DAYS
    if per_hour_of_daily_use <= 0:
        return None
    return quantize_hours(reserved_monthly_price / per_hour_of_daily_use)


def _cheaper(per_second: Decimal, reserved: Decimal | None) -> Cheaper | None:
    if reserved is None:
        return None
    if per_second < reserved:
        return "per_second"
    return "reserved" if per_second > reserved else "equal"


def _sku_breakeven(hardware: Hardware, seconds_by_day: dict[date, Decimal], days: list[date]) -> SkuBreakeven:
    zero = Decimal("0.000")
    series = [
        DayOfUse(
            date=day,
            seconds=seconds_by_day.get(day, zero),
            hours=quantize_hours(seconds_by_day.get(day, zero) / SECONDS_PER_HOUR),
        )
        for day in days
    ]
    seconds = sum((day.seconds for day in series), zero)
    per_second_monthly_cost = quantize_amount(seconds * MONTH_DAYS / WINDOW_DAYS * hardware.price_per_second)
    reserved = hardware.reserved_monthly_price
    machines = max(1, ceil(seconds / (WINDOW_DAYS * SECONDS_PER_DAY)))
    reserved_cost = None if reserved is None else quantize_amount(reserved * machines)
    return SkuBreakeven(
        sku=hardware.sku,
        name=hardware.name,
        price_per_second=hardware.price_per_second,
        days=series,
        seconds=seconds,
        average_hours_per_day=quantize_hours(seconds / SECONDS_PER_HOUR / WINDOW_DAYS),
        per_second_monthly_cost=per_second_monthly_cost,
        reserved_monthly_price=reserved,
        reserved_machines=machines,
        reserved_monthly_cost=reserved_cost,
        breakeven_hours_per_day=None
        if reserved is None
        else breakeven_hours_per_day(reserved_monthly_price=reserved, price_per_second=hardware.price_per_second),
        cheaper=_cheaper(per_second_monthly_cost, reserved_cost),
    )


def account_breakeven(*, account: Account, now: datetime | None = None) -> Breakeven:
    """The breakeven of every SKU `account` was billed for in the window ending at `now`.

    Only the account's own usage records count: whoever owns the model, the account that
    ran the prediction is the one billed, and the one whose hours these are."""
    now = (now or timezone.now()).astimezone(UTC)
    days = window_days(now)
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=UTC)
    rows = (
        UsageRecord.objects.filter(account=account, created_at__gte=start, created_at__lte=now)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("hardware_id", "day")
        .annotate(seconds=Sum("seconds"))
    )
    by_sku: dict[int, dict[date, Decimal]] = {}
    for row in rows:
        by_sku.setdefault(row["hardware_id"], {})[row["day"]] = row["seconds"]
    skus = [_sku_breakeven(hardware, by_sku[hardware.pk], days) for hardware in Hardware.objects.filter(pk__in=by_sku)]
    skus.sort(key=lambda sku: (-sku.seconds, sku.sku))
    return Breakeven(window_start=days[0], window_end=days[-1], skus=skus)
