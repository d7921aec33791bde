"""Predictions whose worker died are queued again once, then failed; never left processing."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from hosting.redis_clients import sync_client
from inference import events
from inference.models import Prediction
from inference.worker import liveness


@pytest.fixture
def lost(alice, echo_version):
    def make(*, attempts: int, started_ago: float = 600, alive: bool = False) -> Prediction:
        prediction = Prediction.objects.create(
            account=alice.account,
            model=echo_version.model,
            version=echo_version,
            status="processing",
            started_at=timezone.now() - timedelta(seconds=started_ago),
            attempts=attempts,
            logs="partial\n",
        )
        if alive:
            sync_client().set(f"hearth:alive:{prediction.id}", "1", ex=60)
        return prediction

    return make


def queued_messages() -> int:
    return sync_client().llen("cpu")


def test_a_prediction_lost_once_is_queued_again(lost):
    prediction = lost(attempts=1)
    before = queued_messages()
    assert liveness.prediction_sweep_lost() == 1
    prediction.refresh_from_db()
    assert (prediction.status, prediction.started_at, prediction.output) == ("starting", None, None)
    assert prediction.logs.startswith("partial\n") and "queued again" in prediction.logs
    assert queued_messages() == before + 1


def test_a_deployments_prediction_queued_again_keeps_its_version_and_instance_cap(lost, alice, echo_version, cpu):
    from inference.deployments.services import deployment_create

    deployment = deployment_create(
        account=alice.account, name="capped", version=echo_version, hardware=cpu, min_instances=0, max_instances=2
    )
    prediction = lost(attempts=1)
    Prediction.objects.filter(pk=prediction.pk).update(deployment=deployment)
    assert liveness.prediction_sweep_lost() == 1
    message = json.loads(sync_client().lindex("cpu", 0))  # kombu pushes on the left
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert args == [prediction.id]
    assert kwargs == {
        "version": echo_version.sha256,
        "forwarded": False,
        "deployment": deployment.id,
        "max_instances": 2,
    }


def test_a_prediction_lost_twice_fails_with_a_clear_error(lost):
    prediction = lost(attempts=2)
    assert liveness.prediction_sweep_lost() == 1
    prediction.refresh_from_db()
    assert prediction.status == "failed" and prediction.error == liveness.LOST_TWICE
    assert prediction.completed_at is not None
    entries = sync_client().xrange(events.stream_key(prediction.id))
    assert entries[-1][1]["type"] == "done"


@pytest.mark.parametrize(("case", "options"), [("worker_alive", {"alive": True}), ("just_claimed", {"started_ago": 1})])
def test_a_live_or_fresh_prediction_is_left_alone(lost, case, options):
    prediction = lost(attempts=1, **options)
    assert liveness.prediction_sweep_lost() == 0
    prediction.refresh_from_db()
    assert prediction.status == "processing"


@pytest.fixture
def queued(alice, echo_version, settings):
    """A `starting` prediction created `waited` seconds ago whose queue message is gone."""
    settings.PREDICTION_REQUEUE_SECONDS = 120
    settings.PREDICTION_MAX_QUEUE_SECONDS = 3600

    def make(*, waited: float) -> Prediction:
        prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
        Prediction.objects.filter(pk=prediction.pk).update(created_at=timezone.now() - timedelta(seconds=waited))
        sync_client().delete(f"hearth:requeued:{prediction.id}")
        return prediction

    return make


def test_a_prediction_nobody_claimed_is_queued_again_once_a_period(queued):
    prediction = queued(waited=300)
    before = queued_messages()
    assert liveness.prediction_sweep_unclaimed() == 1
    assert queued_messages() == before + 1
    assert liveness.prediction_sweep_unclaimed() == 0  # the next sweep, within the period
    assert queued_messages() == before + 1
    prediction.refresh_from_db()
    assert prediction.status == "starting"


def test_a_prediction_waiting_less_than_a_period_is_left_alone(queued):
    queued(waited=5)
    before = queued_messages()
    assert liveness.prediction_sweep_unclaimed() == 0
    assert queued_messages() == before


def test_a_prediction_unclaimed_past_the_longest_queue_time_fails_clearly(queued):
    prediction = queued(waited=3700)
    before = queued_messages()
    assert liveness.prediction_sweep_unclaimed() == 1
    prediction.refresh_from_db()
    assert prediction.status == "failed" and prediction.completed_at is not None
    assert prediction.error == "No worker took this prediction from the queue within 60 minutes, so it was not run."
    assert queued_messages() == before
    entries = sync_client().xrange(events.stream_key(prediction.id))
    assert entries[-1][1]["type"] == "done"
