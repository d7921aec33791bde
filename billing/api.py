"""/v1 endpoints of the billing app: hardware and the account's usage."""

from decimal import Decimal
from typing import Annotated, Any

from drf_spectacular.utils import extend_schema
from pydantic import Field
from rest_framework.response import Response
from typing_extensions import TypedDict

from accounts.endpoints import AccountEndpoint
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


class UsageByModelJSON(UsageLineJSON):
    model: str


class UsageByDayJSON(UsageLineJSON):
    date: Annotated[str, Field(json_schema_extra={"format": "date"})]


@shape
class UsageJSON(TypedDict):
    """This calendar month (UTC) of the calling account."""

    currency: Annotated[str, Field(examples=["USD"])]
    month_start: Timestamp | None
    month_to_date_spend: Money | None
    spending_limit: Annotated[Money | None, Field(description="Null: no limit")]
    credit: Annotated[Money | None, Field(description="Prepaid balance; null: billed afterwards")]
    by_model: list[UsageByModelJSON]
    by_day: Annotated[list[UsageByDayJSON], Field(description="Every day of the month so far, oldest first")]


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


def usage_json(summary: dict[str, Any]) -> UsageJSON:
    return {
        "currency": summary["currency"],
        "month_start": timestamp(summary["month_start"]),
        "month_to_date_spend": _money(summary["month_to_date_spend"]),
        "spending_limit": _money(summary["spending_limit"]),
        "credit": _money(summary["credit"]),
        "by_model": [_by_model(row) for row in summary["by_model"]],
        "by_day": [_by_day(row) for row in summary["by_day"]],
    }


class AccountUsage(AccountEndpoint):
    @extend_schema(
        summary="Month-to-date spend, limit, credit, and usage by model and by day",
        tags=["account"],
        responses={200: json_response("Usage"), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        return Response(usage_json(usage_summary(account=self.account)))


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
