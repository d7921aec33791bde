"""/v1 endpoints of the billing app (DRF): hardware and the account's usage."""

from decimal import Decimal
from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Hardware
from billing.selectors import usage_summary
from hosting.timestamps import timestamp


def hardware_json(hardware: Hardware) -> dict[str, str]:
    return {"sku": hardware.sku, "name": hardware.name}


def _money(value: Decimal | None) -> str | None:
    # Strings, not JSON numbers: a float would lose the micro-dollars.
    return None if value is None else str(value)


def _line(row: dict[str, Any]) -> dict[str, Any]:
    return {"predictions": row["predictions"], "seconds": str(row["seconds"]), "amount": _money(row["amount"])}


def usage_json(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "currency": summary["currency"],
        "month_start": timestamp(summary["month_start"]),
        "month_to_date_spend": _money(summary["month_to_date_spend"]),
        "spending_limit": _money(summary["spending_limit"]),
        "credit": _money(summary["credit"]),
        "by_model": [{"model": row["model"], **_line(row)} for row in summary["by_model"]],
        "by_day": [{"date": row["date"].isoformat(), **_line(row)} for row in summary["by_day"]],
    }


class AccountUsageApi(APIView):
    """GET /v1/account/usage: the caller's month-to-date spend, limit, credit and breakdowns."""

    def get(self, request):
        return Response(usage_json(usage_summary(account=request.user)))


class HardwareListApi(APIView):
    """GET /v1/hardware: the SKUs a model can run on."""

    def get(self, request):
        return Response([hardware_json(hardware) for hardware in Hardware.objects.all()])
