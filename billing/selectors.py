"""Reads of the billing app, scoped to one account."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from billing.models import UsageRecord
from billing.money import CURRENCY
from billing.services import month_start


def _totals(rows) -> dict[str, Any]:
    return {
        "predictions": rows["predictions"],
        "seconds": rows["seconds"] or Decimal("0.000"),
        "amount": rows["amount"] or Decimal("0.000000"),
    }


def usage_summary(*, account: Account, now: datetime | None = None) -> dict[str, Any]:
    """This calendar month's usage (UTC) of one account, up to `now`.

    `by_model` is ordered by amount, largest first; `by_day` has every day of the month so
    far, days without usage included, oldest first."""
    now = (now or timezone.now()).astimezone(UTC)
    start = month_start(now)
    records = UsageRecord.objects.filter(account=account, created_at__gte=start, created_at__lte=now)
    aggregates = {"predictions": Count("id"), "seconds": Sum("seconds"), "amount": Sum("amount")}

    by_model = [
        {"model": f"{row['model__owner__username']}/{row['model__name']}", **_totals(row)}
        for row in records.values("model__owner__username", "model__name")
        .annotate(**aggregates)
        .order_by("-amount", "model__owner__username", "model__name")
    ]
    per_day = {
        row["day"]: _totals(row)
        for row in records.annotate(day=TruncDate("created_at", tzinfo=UTC)).values("day").annotate(**aggregates)
    }
    empty = {"predictions": 0, "seconds": Decimal("0.000"), "amount": Decimal("0.000000")}
    days = [start.date() + timedelta(days=n) for n in range((now.date() - start.date()).days + 1)]
    by_day: list[dict[str, Any]] = [{"date": day, **per_day.get(day, empty)} for day in days]

    saved = records.filter(saved_amount__gt=0).aggregate(
        predictions=Count("id"), seconds=Sum("saved_seconds"), amount=Sum("saved_amount")
    )
    # Read afresh: the caller's instance may come from a cache (tokens are cached briefly).
    current = Account.objects.values("spending_limit", "credit").get(pk=account.pk)
    return {
        "currency": CURRENCY,
        "month_start": start,
        "month_to_date_spend": sum((row["amount"] for row in by_day), Decimal("0.000000")),
        "spending_limit": current["spending_limit"],
        "credit": current["credit"],
        "by_model": by_model,
        "by_day": by_day,
        "saved_by_cache": {
            "predictions": saved["predictions"],
            "seconds": saved["seconds"] or Decimal("0.000"),
            "amount": saved["amount"] or Decimal("0.000000"),
        },
    }
