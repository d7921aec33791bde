"""The worker rides out what tests/chaos found breaking it: a Redis restarted empty (liveness keys
lost, a `done` event that could not be sent, a claim that could not be announced), a database
connection dead under the claim, and a spending guard growing a reservation as its prediction
ends."""

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from hosting.redis_clients import sync_client
from inference import events
from inference.models import Prediction
from inference.worker import execution, liveness, records, spending
from inference.worker.liveness import Heartbeat
from inference.worker.spending import SpendingGuard
from tests.database_faults import terminate_this_connection

DEAD_REDIS = redis.Redis(port=1)  # nothing listens on port 1: every connect is refused


def _prediction(persona, version, **fields) -> Prediction:
    return Prediction.objects.create(account=persona.account, model=version.model, version=version, **fields)


def test_the_heartbeat_sets_again_a_key_that_a_redis_restart_lost(settings):
    settings.PREDICTION_HEARTBEAT_SECONDS = 0.05
    heartbeat = Heartbeat()
    key = "hearth:alive:restarted-redis-test"
    heartbeat.start("restarted-redis-test")
    try:
        sync_client().delete(key)  # what a restart without persistence does to it
        deadline = time.monotonic() + 5
        while not sync_client().exists(key):
            assert time.monotonic() < deadline, "the next beats did not set the key again"
            time.sleep(0.02)
    finally:
        heartbeat.stop("restarted-redis-test")
    assert not sync_client().exists(key)


@pytest.mark.django_db
def test_the_sweep_takes_no_prediction_for_lost_until_redis_has_been_up_a_ttl(alice, echo_version, monkeypatch):
    """Just after a restart every key is gone, live workers' too: they set theirs at their next
    beat. Queued again now, a running prediction would run twice."""
    started = timezone.now() - timedelta(seconds=600)
    running = _prediction(alice, echo_version, status="processing", started_at=started, attempts=1)
    just_restarted = {"uptime_in_seconds": 1}
    monkeypatch.setattr(liveness, "sync_client", lambda: _WithInfo(sync_client(), just_restarted))
    assert liveness.prediction_sweep_lost() == 0
    assert Prediction.objects.get(pk=running.pk).status == "processing"
    just_restarted["uptime_in_seconds"] = 3600  # up long enough: its key is truly gone
    assert liveness.prediction_sweep_lost() == 1
    assert Prediction.objects.get(pk=running.pk).status == "starting"


class _WithInfo:
    """A Redis client whose INFO says what the test wants; everything else is the real one."""

    def __init__(self, client: redis.Redis, info: dict) -> None:
        self._client, self._info = client, info

    def info(self, section: str) -> dict:
        return self._info

    def __getattr__(self, name: str):
        return getattr(self._client, name)


@pytest.mark.django_db
def test_the_done_event_is_sent_once_redis_answers_again(alice, echo_version, monkeypatch):
    monkeypatch.setattr(records, "DONE_RETRY_DELAYS", (0.01, 0.01, 0.01))
    finished = _prediction(alice, echo_version, status="succeeded", output="hi", completed_at=timezone.now())
    attempts = []
    real_publish = events.publish_done

    def publish_while_redis_restarts(prediction_id, state) -> None:
        attempts.append(prediction_id)
        if len(attempts) < 3:
            raise redis.ConnectionError("Error 111 connecting: Connection refused.")
        real_publish(prediction_id, state)

    monkeypatch.setattr(events, "publish_done", publish_while_redis_restarts)
    records.announce_done(finished)
    assert len(attempts) == 3
    entries = sync_client().xrange(events.stream_key(finished.id))
    assert [fields["type"] for _id, fields in entries] == ["done"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_claim_whose_connection_died_is_tried_again_on_a_new_one(alice, echo_version):
    queued = _prediction(alice, echo_version)
    terminate_this_connection()
    claimed = records.claim(queued.pk, now=timezone.now())
    assert claimed is not None and claimed.pk == queued.pk
    assert Prediction.objects.get(pk=queued.pk).status == "processing"


@pytest.mark.django_db
def test_a_claim_that_redis_cannot_announce_still_runs(alice, echo_version, monkeypatch):
    """Claimed in Postgres: it runs now, and the heartbeat sets its key once Redis answers,
    rather than the task failing and the prediction waiting for the sweep."""
    queued = _prediction(alice, echo_version)
    monkeypatch.setattr(execution, "sync_client", lambda: DEAD_REDIS)
    try:
        claimed = execution._claim(queued.pk)
    finally:
        execution._heartbeat.stop(queued.pk)
    assert claimed is not None and claimed[0].pk == queued.pk
    assert Prediction.objects.get(pk=queued.pk).status == "processing"


def test_stopping_the_spending_guard_waits_for_a_step_in_progress(monkeypatch):
    """The final write must not run beside a step: they lock the account and the prediction in
    opposite orders, and PostgreSQL aborted one of them as a deadlock."""
    stepping, step_done = threading.Event(), threading.Event()

    def slow_step(*, prediction) -> None:
        stepping.set()
        time.sleep(0.3)
        step_done.set()

    monkeypatch.setattr(spending, "reservation_extend", slow_step)
    guard = SpendingGuard(Prediction(id="guarded", reserved_seconds=0), runner=None)
    assert stepping.wait(5)
    guard.stop()
    assert step_done.is_set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cold_boot_whose_end_redis_cannot_record_still_runs(alice, echo_version, monkeypatch, pool):
    """The `running` entry is only for the browser's display: Redis refusing it must neither fail
    the prediction nor keep the runner's lease (the next prediction would wait for it for good)."""
    real_publish = events.publish

    def publish_without_running(prediction_id, event_type, data, *, via=None) -> None:
        if event_type == "running":
            raise redis.ConnectionError("Error 111 connecting: Connection refused.")
        real_publish(prediction_id, event_type, data, via=via)

    monkeypatch.setattr(events, "publish", publish_without_running)
    for text in ("cold", "warm"):
        prediction = _prediction(alice, echo_version, input={"text": text})
        execution.prediction_run(prediction_id=prediction.pk)
        prediction.refresh_from_db()
        assert (prediction.status, prediction.output) == ("succeeded", text)
