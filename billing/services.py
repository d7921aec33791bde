"""Metering and spending limits (ARCHITECTURE §8)."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import Account
from billing.models import Hardware, UsageRecord
from billing.money import billable_seconds, charge, quantize_amount
from hosting.problems import ApiProblem

IN_FLIGHT_STATUSES = ("starting", "processing")


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_to_date_spend(*, account: Account) -> Decimal:
    total = UsageRecord.objects.filter(account=account, created_at__gte=month_start()).aggregate(t=Sum("amount"))["t"]
    return total or Decimal(0)


def reservation(*, hardware: Hardware) -> Decimal:
    """What a prediction in flight holds against the limit until its real charge is known."""
    return quantize_amount(hardware.price_per_second * settings.BILLING_RESERVATION_SECONDS)


def spending_limit_check(*, account: Account, hardware: Hardware) -> None:
    """Raise 402 if one more prediction could take the account past its limit.

    Call inside the transaction that inserts the prediction, after locking the account row
    (`select_for_update`): concurrent creates for one account then queue here, so the
    in-flight count each of them sees includes the others.
    """
    from inference.models import Prediction

    if account.spending_limit is None:
        return
    in_flight = (
        Prediction.objects.filter(account=account, status__in=IN_FLIGHT_STATUSES)
        .values("model__hardware__price_per_second")
        .annotate(count=Count("id"))
    )
    reserved = sum(
        (quantize_amount(row["model__hardware__price_per_second"] * settings.BILLING_RESERVATION_SECONDS)
         * row["count"] for row in in_flight),
        Decimal(0),
    )
    committed = month_to_date_spend(account=account) + reserved
    if committed + reservation(hardware=hardware) > account.spending_limit:
        raise ApiProblem(
            402,
            "You have reached your spending limit",
            f"This month's spend and running predictions come to ${committed:.6f} of your ${account.spending_limit} "
            "limit. Raise the limit or wait for running predictions to finish.",
        )


def usage_record_for(*, prediction, predict_time: float) -> UsageRecord:
    """Bill a prediction that ran. Idempotent: a retried task finds the existing record."""
    hardware = prediction.model.hardware
    seconds = billable_seconds(predict_time)
    record, _created = UsageRecord.objects.get_or_create(
        prediction=prediction,
        defaults={
            "account_id": prediction.account_id,
            "model_id": prediction.model_id,
            "hardware": hardware,
            "seconds": seconds,
            "price_per_second": hardware.price_per_second,
            "amount": charge(seconds=seconds, price_per_second=hardware.price_per_second),
            "currency": hardware.currency,
        },
    )
    return record
