"""Reads of the billing app."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from billing.models import Hardware, UsageRecord
from billing.services import month_start


def usage_summary(*, account: Account, now: datetime | None = None) -> dict:
    """Month-to-date usage of `account`: totals, per model, and per day (every day so far,
    zero where nothing ran), for the usage page and API."""
    now = now or timezone.now()
    start = month_start(now)
    records = UsageRecord.objects.filter(account=account, created_at__gte=start, created_at__lte=now)
    by_model = [
        {
            "model": f"{row['model__owner__username']}/{row['model__name']}",
            "predictions": row["predictions"],
            "seconds": row["seconds"],
            "amount": row["amount"],
        }
        for row in records.values("model__owner__username", "model__name")
        .annotate(predictions=Count("id"), seconds=Sum("seconds"), amount=Sum("amount"))
        .order_by("-amount", "model__owner__username", "model__name")
    ]
    per_day = {
        row["date"]: row
        for row in records.annotate(date=TruncDate("created_at", tzinfo=start.tzinfo))
        .values("date")
        .annotate(predictions=Count("id"), seconds=Sum("seconds"), amount=Sum("amount"))
    }
    by_day = []
    day = start.date()
    while day <= now.date():
        row = per_day.get(day, {})
        by_day.append(
            {
                "date": day,
                "predictions": row.get("predictions", 0),
                "seconds": row.get("seconds", Decimal(0)),
                "amount": row.get("amount", Decimal(0)),
            }
        )
        day += timedelta(days=1)
    hardware = Hardware.objects.order_by("pk").first()
    return {
        "currency": hardware.currency if hardware else "USD",
        "month_start": start,
        "month_to_date_spend": sum((row["amount"] for row in by_model), Decimal(0)),
        "spending_limit": account.spending_limit,
        "credit": None,  # credits are not modelled yet
        "by_model": by_model,
        "by_day": by_day,
    }
