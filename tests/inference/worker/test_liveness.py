"""Predictions whose worker died are queued again once, then failed; never left processing."""

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
