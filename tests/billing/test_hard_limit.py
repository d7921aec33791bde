"""The hard spending limit: a running prediction's reservation grows while the account can cover
it; when it cannot, the prediction is stopped where its reservation ends and billed no more than
it held, so month-to-date spend never passes the limit and credit never goes below zero."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Account
from billing.models import UsageRecord
from billing.services import credit_grant, month_to_date_spend, reservation_extend, usage_record_for
from hosting.problems import ApiProblem
from inference import services
from inference.models import Prediction
from inference.runtime.runner import Runner
from inference.worker.spending import SpendingGuard
from tests.conftest import FIXTURE_MODELS

CPU_PRICE = Decimal("0.0001")  # a cpu second


def _fresh(persona) -> Account:
    return Account.objects.get(pk=persona.account.pk)


def _limit(persona, amount: str) -> Account:
    Account.objects.filter(pk=persona.account.pk).update(spending_limit=Decimal(amount))
    return _fresh(persona)


def test_only_predictions_of_accounts_with_a_limit_or_credit_hold_a_reservation(alice, bob, echo_version, settings):
    free = services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    assert free.reserved_seconds is None
    limited = services.prediction_create(account=_limit(alice, "1"), version=echo_version, input={})
    assert limited.reserved_seconds == settings.BILLING_RESERVATION_SECONDS


def test_a_reservation_grows_while_the_limit_covers_it_and_others_see_it(alice, echo_version, settings):
    settings.BILLING_RESERVATION_SECONDS = 10  # $0.001 a step
    account = _limit(alice, "0.003")
    running = services.prediction_create(account=account, version=echo_version, input={})
    assert reservation_extend(prediction=running) is None
    assert running.reserved_seconds == 20
    assert Prediction.objects.get(pk=running.pk).reserved_seconds == 20
    # It holds $0.002 now: one more prediction fits ($0.003), a second does not.
    services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    with pytest.raises(ApiProblem) as refused:
        services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    assert refused.value.title == "You have reached your spending limit"
    # Nor does the next step of the running one: it must stop where it is.
    reason = reservation_extend(prediction=running)
    assert reason == "Stopped: the account reached its spending limit of $0.003."
    assert Prediction.objects.get(pk=running.pk).reserved_seconds == 20


def test_a_reservation_stops_growing_when_credit_runs_out(alice, echo_version, settings):
    settings.BILLING_RESERVATION_SECONDS = 10
    credit_grant(account=alice.account, amount=Decimal("0.0015"))
    running = services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    reason = reservation_extend(prediction=running)
    assert reason is not None and "prepaid credit ran out" in reason


def test_a_prediction_is_billed_no_more_than_it_held(alice, echo_version, settings):
    settings.BILLING_RESERVATION_SECONDS = 60
    credit_grant(account=alice.account, amount=Decimal("0.006"))  # one reservation's worth
    running = services.prediction_create(account=_fresh(alice), version=echo_version, input={})
    Prediction.objects.filter(pk=running.pk).update(status="succeeded")
    record = usage_record_for(prediction=running, predict_time=65.0)  # stopped a grace period late
    assert (record.seconds, record.amount) == (Decimal(60), Decimal("0.006000"))
    assert _fresh(alice).credit == Decimal(0)  # never below zero


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_prediction_is_stopped_at_the_limit_with_the_reason(alice, echo_version, settings):
    settings.BILLING_RESERVATION_SECONDS = 1
    prediction = services.prediction_create(account=_limit(alice, "0.0001"), version=echo_version, input={})
    runner = Runner.start(project_dir=FIXTURE_MODELS / "sleeper", predictor_ref="predict.py:Predictor")
    try:
        started = time.monotonic()  # before the guard: its one reserved second counts from its start
        guard = SpendingGuard.start_for(prediction, runner)
        result = runner.predict(prediction_id=prediction.id, input={"seconds": 30})
        stopped_after = time.monotonic() - started
    finally:
        runner.stop()
    assert guard is not None
    assert guard.stopped_because == "Stopped: the account reached its spending limit of $0.0001."
    assert result.status == "canceled"  # the worker turns it into failed with that reason
    assert 1 <= stopped_after < 3  # at the end of its one reserved second, not at 30 s


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_long_predictions_never_spend_past_the_limit(alice, echo_version, settings):
    """Four predictions of 30 s at once, under a limit worth 10 s: each holds 1 s and grows it
    while the limit lets it; together they stop at the limit, and what they are billed fits in it."""
    settings.BILLING_RESERVATION_SECONDS = 1
    account = _limit(alice, "0.0010")  # ten cpu seconds
    predictions = [services.prediction_create(account=_fresh(alice), version=echo_version, input={}) for _ in range(4)]
    assert account.spending_limit == Decimal("0.0010")
    runners = [
        Runner.start(project_dir=FIXTURE_MODELS / "sleeper", predictor_ref="predict.py:Predictor") for _ in range(4)
    ]
    results = {}

    def run(prediction, runner) -> None:
        """What the worker does for one prediction, billing included."""
        try:
            guard = SpendingGuard.start_for(prediction, runner)
            result = runner.predict(prediction_id=prediction.id, input={"seconds": 30})
            guard.stop()
            Prediction.objects.filter(pk=prediction.pk).update(status="failed")
            usage_record_for(prediction=prediction, predict_time=result.predict_time)
            results[prediction.id] = (result, guard.stopped_because)
        finally:
            connection.close()  # this thread's

    try:
        threads = [threading.Thread(target=run, args=pair) for pair in zip(predictions, runners, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for runner in runners:
            runner.stop()
    assert len(results) == 4
    assert all(reason is not None and "spending limit" in reason for _, reason in results.values())
    spend = month_to_date_spend(account=_fresh(alice))
    assert spend <= Decimal("0.0010")
    assert spend >= Decimal("0.0006")  # they did run until the limit, not stop at once
    assert UsageRecord.objects.filter(account=alice.account).count() == 4
