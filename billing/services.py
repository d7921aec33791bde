"""Metering, spending limits and prepaid credit (ARCHITECTURE §8).

The rules, in one place:

- **Spend** is the sum of an account's usage records this calendar month (UTC), whoever pays
  for them: credit does not make usage free, it only pays for it.
- **Spending limit** (optional): a new prediction is refused with 402 "You have reached your
  spending limit" when month-to-date spend, plus what every prediction of the account still
  queued or running holds, plus this prediction's first reservation, would pass the limit.
- **Prepaid credit** (optional, `Account.credit`): an account with a credit balance is
  prepaid. Each usage record is taken off the balance when it is written. A new prediction is
  refused with 402 "Insufficient credit" when the balance cannot cover what the predictions in
  flight hold plus this one. Both checks apply when both are set; credit never raises the
  limit. An account whose credit is empty (null) is billed afterwards and only the limit applies.
- **A hard limit.** For an account with either, a prediction holds a reservation of
  `BILLING_RESERVATION_SECONDS` of its hardware's price (`Prediction.reserved_seconds`), taken
  under a lock of the account row so concurrent creates see each other. While it runs, the
  worker grows it by the same step before it runs out (`reservation_extend`, under the same
  lock and the same checks); when the account cannot cover the next step, the prediction is
  stopped where its reservation ends, failed with "spending limit reached" (or "credit ran
  out"), and billed for at most its reserved seconds (`usage_record_*`). So the bound is exact:
  month-to-date spend never passes the limit, and credit never goes below zero. Stopping takes
  up to the runner's cancel grace beyond the reservation; that time is not billed.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from billing.models import CreditGrant, Hardware, UsageRecord
from billing.money import billable_seconds, charge, quantize_amount
from hosting.problems import ApiProblem

IN_FLIGHT_STATUSES = ("starting", "processing")


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_to_date_spend(*, account: Account) -> Decimal:
    total = UsageRecord.objects.filter(account=account, created_at__gte=month_start()).aggregate(t=Sum("amount"))["t"]
    return total or Decimal(0)


def reservation(*, hardware: Hardware) -> Decimal:
    """What a prediction in flight holds against the limit until its real charge is known."""
    return quantize_amount(hardware.price_per_second * settings.BILLING_RESERVATION_SECONDS)


def _dollars(value: Decimal) -> str:
    return format(value.normalize(), "f")


def needs_admission_check(account: Account) -> bool:
    """Whether creating a prediction for this account has anything to check (and lock)."""
    return account.spending_limit is not None or account.credit is not None


def _reserved_in_flight(account: Account) -> Decimal:
    # Through the account's reverse relation: billing reads predictions without importing the
    # inference app that sits above it.
    in_flight = (
        account.predictions.filter(status__in=IN_FLIGHT_STATUSES)
        .values("hardware__price_per_second", "reserved_seconds")
        .annotate(count=Count("id"))
    )
    return sum(
        (
            quantize_amount(
                row["hardware__price_per_second"] * (row["reserved_seconds"] or settings.BILLING_RESERVATION_SECONDS)
            )
            * row["count"]
            for row in in_flight
        ),
        Decimal(0),
    )


def _shortfall(account: Account, needed: Decimal) -> ApiProblem | None:
    """Why the account cannot hold `needed` more, or None when it can. The account row must be
    locked by the caller's transaction, so what others hold cannot change meanwhile."""
    reserved = _reserved_in_flight(account)
    if account.spending_limit is not None:
        committed = month_to_date_spend(account=account) + reserved
        if committed + needed > account.spending_limit:
            return ApiProblem(
                402,
                "You have reached your spending limit",
                f"This month's spend and running predictions come to ${committed:.6f} of your "
                f"${_dollars(account.spending_limit)} limit. "
                "Raise the limit or wait for running predictions to finish.",
            )
    if account.credit is not None and account.credit - reserved < needed:
        return ApiProblem(
            402,
            "Insufficient credit",
            f"You have insufficient credit to run this model: ${account.credit:.6f} left, "
            f"${reserved:.6f} held by running predictions and ${needed:.6f} needed to start one. Add credit.",
        )
    return None


def admission_check(*, account: Account, hardware: Hardware) -> None:
    """Raise 402 if one more prediction could take the account past its limit or its credit.

    Call inside the transaction that inserts the prediction, after locking the account row
    (`select_for_update`): concurrent creates for one account then queue here, so the
    in-flight count each of them sees includes the others.
    """
    if not needs_admission_check(account):
        return
    problem = _shortfall(account, reservation(hardware=hardware))
    if problem is not None:
        raise problem


@transaction.atomic
def reservation_extend(*, prediction) -> str | None:
    """Grow a running prediction's reservation by one step (`BILLING_RESERVATION_SECONDS`).

    None when it grew (`prediction.reserved_seconds` holds the new total); otherwise why the
    account cannot cover it, for the prediction's error: it must stop where its reservation ends.
    """
    account = Account.objects.select_for_update().get(pk=prediction.account_id)
    step = settings.BILLING_RESERVATION_SECONDS
    problem = _shortfall(account, reservation(hardware=prediction.hardware))
    if problem is not None:
        if problem.title == "Insufficient credit":
            return f"Stopped: the account's prepaid credit ran out (${account.credit:.6f} left). Add credit."
        limit = account.spending_limit or Decimal(0)  # set: else the limit check found no shortfall
        return f"Stopped: the account reached its spending limit of ${_dollars(limit)}."
    account.predictions.filter(pk=prediction.pk).update(reserved_seconds=F("reserved_seconds") + step)
    prediction.reserved_seconds = (prediction.reserved_seconds or 0) + step
    return None


def _billed_seconds(prediction, predict_time: float) -> Decimal:
    """The seconds charged: the run time, never more than what the prediction had reserved."""
    seconds = billable_seconds(predict_time)
    if prediction.reserved_seconds is not None:
        seconds = min(seconds, Decimal(prediction.reserved_seconds))
    return seconds


@transaction.atomic
def usage_record_for(*, prediction, predict_time: float) -> UsageRecord:
    """Bill a prediction that ran. Idempotent: a retried task finds the existing record and
    neither bills nor draws credit again."""
    hardware = prediction.hardware
    seconds = _billed_seconds(prediction, predict_time)
    record, created = UsageRecord.objects.get_or_create(
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
    if created:
        Account.objects.filter(pk=prediction.account_id, credit__isnull=False).update(
            credit=F("credit") - record.amount
        )
    return record


def usage_record_for_cache_hit(*, prediction, saved_seconds: float) -> UsageRecord:
    """Record a prediction answered from the prediction cache: nothing billed, and what it saved
    (the earlier prediction's billed seconds at today's price), for the usage page."""
    hardware = prediction.hardware
    seconds = Decimal(str(saved_seconds)).quantize(Decimal("0.001"))
    return UsageRecord.objects.create(
        prediction=prediction,
        account_id=prediction.account_id,
        model_id=prediction.model_id,
        hardware=hardware,
        seconds=Decimal(0),
        price_per_second=hardware.price_per_second,
        amount=Decimal(0),
        currency=hardware.currency,
        saved_seconds=seconds,
        saved_amount=charge(seconds=seconds, price_per_second=hardware.price_per_second),
    )


# The same charge as `usage_record_for`, as common table expressions that a caller puts at the
# head of one statement with its own writes (the worker ends a billed prediction in one round
# trip: inference/worker/records.py). `usage` inserts the charge or, for a retried task, returns
# the one already there (the no-op DO UPDATE makes RETURNING see it; `xmax = 0` only on a row
# this statement inserted); `credit` draws prepaid credit only for a charge just made.
# PostgreSQL only. The parameters come from `usage_record_sql_params`.
USAGE_RECORD_CTES = """
usage AS (
    INSERT INTO billing_usagerecord
        (prediction_id, account_id, model_id, hardware_id, seconds, price_per_second, amount, currency, created_at)
    VALUES (%(usage_prediction_id)s, %(usage_account_id)s, %(usage_model_id)s, %(usage_hardware_id)s,
            %(usage_seconds)s, %(usage_price_per_second)s, %(usage_amount)s, %(usage_currency)s, %(usage_at)s)
    ON CONFLICT (prediction_id) DO UPDATE SET prediction_id = EXCLUDED.prediction_id
    RETURNING account_id, amount, xmax = 0 AS created
), credit AS (
    UPDATE accounts_account SET credit = credit - usage.amount FROM usage
    WHERE accounts_account.id = usage.account_id AND usage.created AND accounts_account.credit IS NOT NULL
)"""


def usage_record_sql_params(*, prediction, predict_time: float, at: datetime) -> dict[str, Any]:
    """The parameters of `USAGE_RECORD_CTES` for a prediction (its hardware loaded)."""
    hardware = prediction.hardware
    seconds = _billed_seconds(prediction, predict_time)
    return {
        "usage_prediction_id": prediction.pk,
        "usage_account_id": prediction.account_id,
        "usage_model_id": prediction.model_id,
        "usage_hardware_id": hardware.pk,
        "usage_seconds": seconds,
        "usage_price_per_second": hardware.price_per_second,
        "usage_amount": charge(seconds=seconds, price_per_second=hardware.price_per_second),
        "usage_currency": hardware.currency,
        "usage_at": at,
    }


@transaction.atomic
def credit_grant(*, account: Account, amount: Decimal, note: str = "", granted_by=None) -> CreditGrant:
    """Add prepaid credit. An account without a balance becomes prepaid (see the module rules)."""
    amount = quantize_amount(Decimal(amount))
    if amount <= 0:
        raise ValueError("A credit grant must be a positive amount.")
    grant = CreditGrant.objects.create(account=account, amount=amount, note=note, granted_by=granted_by)
    Account.objects.filter(pk=account.pk).update(credit=Coalesce(F("credit"), Decimal(0)) + amount)
    return grant
