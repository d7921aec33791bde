"""/v1 endpoints of the billing app: hardware and the account's usage."""

from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from pydantic import Field
from rest_framework.response import Response
from typing_extensions import TypedDict

from accounts.endpoints import AccountEndpoint
from billing.breakeven import MONTH_DAYS, WINDOW_DAYS, Breakeven, SkuBreakeven, account_breakeven
from billing.models import Hardware
from billing.selectors import usage_summary
from hosting.openapi import AUTHENTICATED_PROBLEMS, json_response, ref
from hosting.problems import InvalidRequest
from hosting.shapes import Money, Timestamp, shape
from hosting.timestamps import timestamp


@shape
class HardwareJSON(TypedDict):
    sku: Annotated[str, Field(examples=["gpu-t4"])]
    name: str


class UsageLineJSON(TypedDict):
    predictions: int
    seconds: Annotated[str, Field(json_schema_extra={"format": "decimal"}, description="Billed seconds")]
    amount: Money | None


class CacheSavingsJSON(TypedDict):
    predictions: Annotated[int, Field(description="Predictions answered from the prediction cache, billed nothing")]
    seconds: Annotated[
        str, Field(json_schema_extra={"format": "decimal"}, description="Seconds the earlier predictions ran for")
    ]
    amount: Annotated[Money | None, Field(description="What running them again would have cost, at today's prices")]


class UsageByModelJSON(UsageLineJSON):
    model: str


class UsageByDayJSON(UsageLineJSON):
    date: Annotated[str, Field(json_schema_extra={"format": "date"})]


Hours = Annotated[
    str, Field(json_schema_extra={"format": "decimal", "example": "4.2500"}, description="Hours, as a string")
]
Date = Annotated[str, Field(json_schema_extra={"format": "date"})]


class BreakevenDayJSON(TypedDict):
    date: Date
    seconds: Annotated[str, Field(json_schema_extra={"format": "decimal"}, description="Billed seconds")]
    hours: Hours


class BreakevenSkuJSON(TypedDict):
    sku: Annotated[str, Field(examples=["gpu-t4"])]
    name: str
    price_per_second: Annotated[Money, Field(description="Today's price per second of the SKU")]
    hours_per_day: Annotated[list[BreakevenDayJSON], Field(description="Every day of the window, oldest first")]
    average_hours_per_day: Annotated[Hours, Field(description="The window's compute hours over its days")]
    per_second_monthly_cost: Annotated[
        Money, Field(description="A month at the average hours a day, billed per second at today's price")
    ]
    reserved_monthly_price: Annotated[
        Money | None, Field(description="The operator's price of a reserved machine of this SKU; null: none")
    ]
    reserved_machines: Annotated[
        int, Field(ge=1, description="Machines the average needs, 24 hours a day each (at least one)")
    ]
    reserved_monthly_cost: Annotated[
        Money | None, Field(description="reserved_monthly_price x reserved_machines; null: no reserved price")
    ]
    breakeven_hours_per_day: Annotated[
        Hours | None,
        Field(
            description="Hours a day at which a month billed per second costs the reserved price, "
            "reserved / (price per second x 3600 x month_days); null: no reserved price, or free per second"
        ),
    ]
    cheaper: Annotated[
        Literal["per_second", "reserved", "equal"] | None,
        Field(
            description="Which costs less a month at the average hours a day: per_second_monthly_cost or "
            "reserved_monthly_cost; null: no reserved price to compare"
        ),
    ]


class BreakevenJSON(TypedDict):
    """Per-second billing against a reserved machine, per SKU used in the window."""

    window_start: Date
    window_end: Annotated[Date, Field(description="Today (UTC), counted as a whole day")]
    window_days: Annotated[int, Field(examples=[WINDOW_DAYS])]
    month_days: Annotated[int, Field(examples=[MONTH_DAYS], description="Days in the month of the monthly figures")]
    hardware: Annotated[list[BreakevenSkuJSON], Field(description="The SKUs used in the window, most hours first")]


@shape
class UsageJSON(TypedDict):
    """This calendar month (UTC) of the calling account; `breakeven`, its last 30 days."""

    currency: Annotated[str, Field(examples=["USD"])]
    month_start: Timestamp | None
    month_to_date_spend: Money | None
    spending_limit: Annotated[Money | None, Field(description="Null: no limit")]
    credit: Annotated[Money | None, Field(description="Prepaid balance; null: billed afterwards")]
    by_model: list[UsageByModelJSON]
    by_day: Annotated[list[UsageByDayJSON], Field(description="Every day of the month so far, oldest first")]
    saved_by_cache: Annotated[CacheSavingsJSON, Field(description="What the prediction cache saved this month")]
    breakeven: BreakevenJSON


def list_hardware_skus(schema: dict[str, Any]) -> None:
    """pydantic `json_schema_extra` for a field that names a SKU: the document lists the SKUs
    there are when it is made (operators edit them in the admin), so a SKU it allows exists."""
    schema["enum"] = list(Hardware.objects.values_list("sku", flat=True))


def hardware_named(sku: str) -> Hardware:
    """The SKU a request body's `hardware` field names (its schema is `list_hardware_skus`), or a
    400 naming the field: the document listed the SKUs there were when it was made."""
    hardware = Hardware.objects.filter(sku=sku).first()
    if hardware is None:
        raise InvalidRequest("hardware is not a SKU of GET /v1/hardware.", field="hardware", kind="enum")
    return hardware


def hardware_json(hardware: Hardware) -> HardwareJSON:
    return {"sku": hardware.sku, "name": hardware.name}


def _money(value: Decimal | None) -> str | None:
    # Strings, not JSON numbers: a float would lose the micro-dollars.
    return None if value is None else str(value)


def _savings(row: dict[str, Any]) -> CacheSavingsJSON:
    return {"predictions": row["predictions"], "seconds": str(row["seconds"]), "amount": _money(row["amount"])}


def _by_model(row: dict[str, Any]) -> UsageByModelJSON:
    return {
        "model": row["model"],
        "predictions": row["predictions"],
        "seconds": str(row["seconds"]),
        "amount": _money(row["amount"]),
    }


def _by_day(row: dict[str, Any]) -> UsageByDayJSON:
    return {
        "date": row["date"].isoformat(),
        "predictions": row["predictions"],
        "seconds": str(row["seconds"]),
        "amount": _money(row["amount"]),
    }


def _breakeven_sku(sku: SkuBreakeven) -> BreakevenSkuJSON:
    return {
        "sku": sku.sku,
        "name": sku.name,
        "price_per_second": str(sku.price_per_second),
        "hours_per_day": [
            {"date": day.date.isoformat(), "seconds": str(day.seconds), "hours": str(day.hours)} for day in sku.days
        ],
        "average_hours_per_day": str(sku.average_hours_per_day),
        "per_second_monthly_cost": str(sku.per_second_monthly_cost),
        "reserved_monthly_price": _money(sku.reserved_monthly_price),
        "reserved_machines": sku.reserved_machines,
        "reserved_monthly_cost": _money(sku.reserved_monthly_cost),
        "breakeven_hours_per_day": None if sku.breakeven_hours_per_day is None else str(sku.breakeven_hours_per_day),
        "cheaper": sku.cheaper,
    }


def breakeven_json(breakeven: Breakeven) -> BreakevenJSON:
    return {
        "window_start": breakeven.window_start.isoformat(),
        "window_end": breakeven.window_end.isoformat(),
        "window_days": WINDOW_DAYS,
        "month_days": MONTH_DAYS,
        "hardware": [_breakeven_sku(sku) for sku in breakeven.skus],
    }


def usage_json(summary: dict[str, Any], breakeven: Breakeven) -> UsageJSON:
    return {
        "currency": summary["currency"],
        "month_start": timestamp(summary["month_start"]),
        "month_to_date_spend": _money(summary["month_to_date_spend"]),
        "spending_limit": _money(summary["spending_limit"]),
        "credit": _money(summary["credit"]),
        "by_model": [_by_model(row) for row in summary["by_model"]],
        "by_day": [_by_day(row) for row in summary["by_day"]],
        "saved_by_cache": _savings(summary["saved_by_cache"]),
        "breakeven": breakeven_json(breakeven),
    }


class AccountUsage(AccountEndpoint):
    @extend_schema(
        summary="Month-to-date spend, limit, credit, usage by model and by day, and the self-hosting breakeven",
        tags=["account"],
        responses={200: json_response("Usage"), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        now = timezone.now()
        summary = usage_summary(account=self.account, now=now)
        return Response(usage_json(summary, account_breakeven(account=self.account, now=now)))


class HardwareList(AccountEndpoint):
    @extend_schema(
        summary="Hardware SKUs a model can run on",
        tags=["models"],
        responses={
            200: {"type": "array", "items": ref("Hardware")},
            **AUTHENTICATED_PROBLEMS,
        },
    )
    def get(self, request):
        return Response([hardware_json(hardware) for hardware in Hardware.objects.all()])
