"""What the worker bills when a prediction ends, and the hardware catalogue it bills from."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from billing.models import Hardware, UsageRecord
from billing.services import credit_grant
from billing.skus import DEFAULT_SKUS, seed_default_hardware
from hosting.redis_clients import sync_client
from inference import services
from inference.models import Model, Prediction
from inference.worker import execution, records


@pytest.fixture(params=["one statement", "orm"], autouse=True)
def recording_path(request, monkeypatch):
    """Every test here runs on both ways of recording an outcome: the one-statement path
    PostgreSQL takes and the ORM path other databases take."""
    if request.param == "orm":
        monkeypatch.setattr(records, "record_outcome", records.record_outcome_orm)
    return request.param


def _running(alice, echo_version) -> Prediction:
    """A prediction a worker has claimed, as the worker claims it."""
    created = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    return records.claim(created.pk, now=timezone.now())


def _finish(prediction, status: str, metrics: dict) -> Prediction:
    execution._finish(
        prediction, status=status, output=None, error="boom" if status == "failed" else None, logs="", metrics=metrics
    )
    return Prediction.objects.get(pk=prediction.pk)


@pytest.mark.parametrize("status", ["succeeded", "failed", "canceled"])
def test_every_prediction_that_ran_is_billed_whatever_its_outcome(alice, echo_version, status):
    prediction = _finish(_running(alice, echo_version), status, {"predict_time": 12.3456})
    record = UsageRecord.objects.get(prediction=prediction)
    assert (record.seconds, record.price_per_second, record.amount) == (
        Decimal("12.346"),
        Decimal("0.0001"),
        Decimal("0.001235"),
    )
    assert (record.account_id, record.model_id, record.hardware.sku) == (alice.account.pk, echo_version.model.pk, "cpu")
    assert prediction.status == status and prediction.metrics["cost"] == "0.001235"


def test_a_prediction_that_never_ran_costs_nothing(alice, echo_version):
    # Canceled after the claim but before predict() began (or its deadline passed in the queue).
    prediction = _finish(_running(alice, echo_version), "canceled", {})
    assert "cost" not in prediction.metrics and not UsageRecord.objects.exists()


def test_cancelled_in_the_queue_costs_nothing(alice, echo_version):
    prediction = services.prediction_create(account=alice.account, version=echo_version, input={})
    services.prediction_cancel(prediction=prediction)
    prediction.refresh_from_db()
    assert prediction.status == "canceled" and "cost" not in prediction.metrics
    assert not UsageRecord.objects.exists()


def test_a_retried_task_bills_once(alice, echo_version):
    """A worker thought lost is requeued and a second attempt runs the same prediction: the
    second finish finds the first charge and neither bills nor draws credit again."""
    credit_grant(account=alice.account, amount=Decimal("1"))
    first = _running(alice, echo_version)
    _finish(first, "succeeded", {"predict_time": 2.0})
    Prediction.objects.filter(pk=first.pk).update(status="starting")  # requeued
    second = records.claim(first.pk, now=timezone.now())
    again = _finish(second, "succeeded", {"predict_time": 5.0})
    record = UsageRecord.objects.get()
    assert record.seconds == Decimal("2.000") and again.metrics["cost"] == str(record.amount) == "0.000200"
    assert Account.objects.get(pk=alice.account.pk).credit == Decimal("0.999800")


def test_every_finished_run_counts_once_on_its_model(alice, echo_version):
    _finish(_running(alice, echo_version), "succeeded", {"predict_time": 1.0})
    _finish(_running(alice, echo_version), "canceled", {})
    lost_then_retried = _running(alice, echo_version)
    Prediction.objects.filter(pk=lost_then_retried.pk).update(status="starting")
    _finish(records.claim(lost_then_retried.pk, now=timezone.now()), "failed", {"predict_time": 1.0})
    assert Model.objects.get(pk=echo_version.model.pk).run_count == 3


def test_an_outcome_is_written_only_over_a_running_prediction(alice, echo_version):
    """A prediction another attempt already ended keeps that end; the run is still billed once."""
    running = _running(alice, echo_version)
    Prediction.objects.filter(pk=running.pk).update(status="failed", error="lost twice")
    _finish(running, "succeeded", {"predict_time": 2.0})
    stored = Prediction.objects.get(pk=running.pk)
    assert (stored.status, stored.error) == ("failed", "lost twice")
    assert UsageRecord.objects.get(prediction=stored).amount == Decimal("0.0002")


def test_a_price_change_applies_to_predictions_that_start_after_it(alice, echo_version):
    started_before = _running(alice, echo_version)
    Hardware.objects.filter(sku="cpu").update(price_per_second=Decimal("0.0003"))
    records._run_contexts.clear()  # workers see the new price within MODEL_CACHE_SECONDS
    started_after = _running(alice, echo_version)
    assert _finish(started_before, "succeeded", {"predict_time": 10}).metrics["cost"] == "0.001000"
    assert _finish(started_after, "succeeded", {"predict_time": 10}).metrics["cost"] == "0.003000"


def test_a_model_runs_on_its_hardware_queue(alice, cpu, echo_version, django_capture_on_commit_callbacks):
    Model.objects.filter(pk=echo_version.model.pk).update(hardware=Hardware.objects.get(sku="gpu-t4"))
    echo_version.model.refresh_from_db()
    before = sync_client().llen("gpu-t4")
    with django_capture_on_commit_callbacks(execute=True):
        prediction = services.prediction_create(account=alice.account, version=echo_version, input={})
    messages = sync_client().lrange("gpu-t4", 0, -1)
    assert len(messages) == before + 1 and prediction.id in messages[0]
    sync_client().delete("gpu-t4")


def test_the_catalogue_is_replicates_public_price_list(cpu):
    prices = dict(Hardware.objects.values_list("sku", "price_per_second"))
    assert {sku: prices[sku] for sku in ("cpu", "gpu-t4", "gpu-l40s", "gpu-a100-large", "gpu-h100")} == {
        "cpu": Decimal("0.0001"),
        "gpu-t4": Decimal("0.000225"),
        "gpu-l40s": Decimal("0.000975"),
        "gpu-a100-large": Decimal("0.0014"),
        "gpu-h100": Decimal("0.001525"),
    }
    for base in ("gpu-l40s", "gpu-a100-large", "gpu-h100"):
        for n in (2, 4, 8):
            assert prices[f"{base}-{n}x"] == prices[base] * n  # multi-GPU SKUs cost n of one GPU


def test_seeding_again_keeps_prices_staff_have_set(cpu):
    Hardware.objects.filter(sku="gpu-t4").update(price_per_second=Decimal("0.0002"))
    Hardware.objects.filter(sku="gpu-h100-8x").delete()
    seed_default_hardware(Hardware)
    assert Hardware.objects.get(sku="gpu-t4").price_per_second == Decimal("0.0002")
    assert Hardware.objects.count() == len(DEFAULT_SKUS)


def test_crossing_the_limit_does_not_stop_a_running_prediction(alice, echo_version):
    running = _running(alice, echo_version)
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0"))  # lowered mid-run
    finished = _finish(running, "succeeded", {"predict_time": 30})
    assert finished.status == "succeeded" and finished.metrics["cost"] == "0.003000"
    assert UsageRecord.objects.get(prediction=finished).amount == Decimal("0.003")
