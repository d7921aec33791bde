"""The usage page's breakeven chart, laid out on the server: one SVG per SKU, hours of use per
day as bars with the breakeven (and the average) as horizontal lines. Drawn from attributes
alone, so the dashboard's Content-Security-Policy (no inline scripts or styles) has nothing to
refuse and the page needs no script for it."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import floor, log10

from billing.breakeven import SkuBreakeven

WIDTH, HEIGHT = 720, 180
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 8, 10, 22
_PLOT_WIDTH, _PLOT_HEIGHT = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
HOURS_IN_A_DAY = 24
_GRIDLINES = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    date: str
    hours: Decimal
    label: str | None  # under every fifth day's bar, with the month on the first label and the 1st
    label_x: float


@dataclass(frozen=True)
class Gridline:
    y: float
    label: str
    label_y: float  # the label's baseline, beside the line


@dataclass(frozen=True)
class BreakevenChart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    axis_label_x: int  # where the hour labels end, left of the plot
    day_label_y: int  # the baseline of the day labels, under the bars
    baseline: float  # y of zero hours
    axis_max: float  # hours a day at the top of the plot
    bars: list[Bar]
    gridlines: list[Gridline]
    average_y: float
    average_text: str  # the average hours a day, as the page words it
    breakeven_y: float | None  # None: no breakeven, or one above the axis (past 24 hours a day)
    breakeven_label_y: float | None


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`, so gridlines land on
    round hours, or a whole day (24 h, lines every 6 h) in place of 50. Above 24 hours a day of
    use is machines in parallel, which an account may well run."""
    if value <= 0:
        return 1.0
    power = 10 ** floor(log10(value))
    nice = next(step * power for step in (1, 2, 5, 10) if step * power >= value)
    return float(HOURS_IN_A_DAY if value <= HOURS_IN_A_DAY < nice else nice)


def _hours_label(value: float) -> str:
    return f"{value:.4g} h"


def _day_label(day: date, *, first: bool) -> str | None:
    if day.day == 1:
        return f"{day:%b} 1"
    # a fifth day less than three days before the next month's 1st would crowd that label
    if day.day % 5 or (day + timedelta(days=2)).month != day.month:
        return None
    return f"{day:%b} {day.day}" if first else str(day.day)


def hours_text(hours: Decimal, seconds: Decimal) -> str:
    """Hours a day to two places, for the page's words; a little use is not called none."""
    if seconds > 0 and hours < Decimal("0.005"):
        return "under 0.01"
    return str(hours.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))  # as floatformat rounds


def _y(hours: float, axis_max: float) -> float:
    return round(_TOP + _PLOT_HEIGHT - min(hours, axis_max) / axis_max * _PLOT_HEIGHT, 2)


def breakeven_chart(sku: SkuBreakeven) -> BreakevenChart:
    breakeven = None if sku.breakeven_hours_per_day is None else float(sku.breakeven_hours_per_day)
    # The axis reaches the breakeven, but for no more than a whole day: past that it would
    # flatten the bars to show a line no single machine's use can reach.
    axis_max = nice_max(max([float(day.hours) for day in sku.days] + [min(breakeven or 0.0, float(HOURS_IN_A_DAY))]))
    shown_breakeven = breakeven if breakeven is not None and breakeven <= axis_max else None
    slot = _PLOT_WIDTH / len(sku.days)
    bars: list[Bar] = []
    for index, day in enumerate(sku.days):
        height = float(day.hours) / axis_max * _PLOT_HEIGHT
        if day.seconds > 0:
            height = max(height, 1.0)  # a little use is still drawn
        bars.append(
            Bar(
                x=round(_LEFT + index * slot + slot * 0.15, 2),
                y=round(_TOP + _PLOT_HEIGHT - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                date=day.date.isoformat(),
                hours=day.hours,
                label=_day_label(day.date, first=not any(bar.label for bar in bars)),
                label_x=round(_LEFT + (index + 0.5) * slot, 2),
            )
        )
    gridlines = [
        Gridline(y=y, label=_hours_label(axis_max * n / _GRIDLINES), label_y=y + 4)
        for n in range(_GRIDLINES + 1)
        for y in [_y(axis_max * n / _GRIDLINES, axis_max)]
    ]
    breakeven_y = None if shown_breakeven is None else _y(shown_breakeven, axis_max)
    return BreakevenChart(
        width=WIDTH,
        height=HEIGHT,
        left=_LEFT,
        right=WIDTH - _RIGHT,
        axis_label_x=_LEFT - 6,
        day_label_y=HEIGHT - 6,
        baseline=_TOP + _PLOT_HEIGHT,
        axis_max=axis_max,
        bars=bars,
        gridlines=gridlines,
        average_y=_y(float(sku.average_hours_per_day), axis_max),
        average_text=hours_text(sku.average_hours_per_day, sku.seconds),
        breakeven_y=breakeven_y,
        # above the line, or under it where the line runs along the top of the plot
        breakeven_label_y=None
        if breakeven_y is None
        else (breakeven_y - 4 if breakeven_y > _TOP + 12 else breakeven_y + 12),
    )
