"""A finished prediction's result is saved even when the database connection dies under the
final write: the write is tried again on a new connection, never the prediction run again."""

import pytest
from django.utils import timezone

from billing.models import UsageRecord
from inference.models import Model, Prediction
from inference.worker import execution, records
from tests.database_faults import terminate_this_connection

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.parametrize("predict_time", [1.5, None], ids=["billed", "unbilled"])
def test_the_final_write_survives_a_terminated_connection(alice, echo_version, monkeypatch, predict_time):
    monkeypatch.setattr(records, "FINAL_WRITE_RETRY_DELAYS", (0.05, 0.05))
    created = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    running = records.claim(created.pk, now=timezone.now())
    terminate_this_connection()
    metrics = {"predict_time": predict_time} if predict_time else {}
    execution._finish(running, status="succeeded", output="hi", error=None, logs="", metrics=metrics)
    stored = Prediction.objects.get(pk=created.pk)
    assert (stored.status, stored.output, stored.attempts) == ("succeeded", "hi", 1)
    assert UsageRecord.objects.filter(prediction=stored).count() == (1 if predict_time else 0)
    assert Model.objects.get(pk=echo_version.model.pk).run_count == 1


def test_a_write_retried_after_it_committed_counts_and_bills_once(alice, echo_version):
    """The connection can die after COMMIT, before the answer: the next try finds the prediction
    ended and its charge made, and changes nothing."""
    created = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    running = records.claim(created.pk, now=timezone.now())
    running.status, running.output, running.completed_at = "succeeded", "hi", timezone.now()
    records.record_outcome(running, predict_time=1.0)
    records.record_outcome(running, predict_time=1.0)  # what a retry after a lost answer does
    assert UsageRecord.objects.filter(prediction=created).count() == 1
    assert Model.objects.get(pk=echo_version.model.pk).run_count == 1
