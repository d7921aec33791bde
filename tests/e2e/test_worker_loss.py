"""A worker killed mid-prediction (SIGKILL) loses nothing: the prediction runs again."""

import os
import signal
import time

import pytest
from django.test import override_settings

from hosting.redis_clients import sync_client
from inference.worker import liveness
from tests.e2e.test_replicate_client import wait_until_running

pytestmark = pytest.mark.e2e


def test_a_prediction_survives_its_worker_being_killed(platform, django_db_blocker):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["sleeper"], input={"seconds": 3})
    wait_until_running(prediction)
    os.killpg(platform.worker.pid, signal.SIGKILL)
    platform.worker.wait()
    platform.restart_worker()
    time.sleep(3.5)  # the e2e worker beats every 1 s; its key lapses after 3 s
    with override_settings(PREDICTION_HEARTBEAT_SECONDS=1), django_db_blocker.unblock():
        assert liveness.prediction_sweep_lost() == 1
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.output == "woke up"
    assert "queued again" in prediction.logs
    assert client.run("alice/echo", input={"text": "new worker"}) == "new worker"


def test_a_prediction_whose_queue_message_is_lost_still_runs(platform, django_db_blocker):
    """The hardware queue deleted while a prediction waits in it (as a Redis restarted without
    persistence would lose it): beat's sweep queues it again and the worker runs it."""
    client = platform.client()
    busy = client.predictions.create(version=platform.versions["sleeper"], input={"seconds": 2})
    wait_until_running(busy)  # the solo worker is busy: the next message waits in Redis
    waiting = client.predictions.create(version=platform.versions["echo"], input={"text": "still here"})
    assert sync_client().delete("cpu") == 1  # the `cpu` queue, and the message in it, are gone
    busy.wait()
    time.sleep(1.5)
    waiting.reload()
    assert waiting.status == "starting"  # lost: nothing would ever run it
    with override_settings(PREDICTION_REQUEUE_SECONDS=1), django_db_blocker.unblock():
        assert liveness.prediction_sweep_unclaimed() == 1
    waiting.wait()
    assert waiting.status == "succeeded" and waiting.output == "still here"
