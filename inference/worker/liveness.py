"""No prediction is lost when a worker dies (SIGKILL, OOM, a machine gone) or its queue
message does (a queue deleted, a Redis restarted without persistence).

A worker keeps a short-lived Redis key alive for every prediction it has claimed. Celery
beat runs `prediction_sweep_lost`: a `processing` prediction whose key has expired lost its
worker, and is queued again once or, if that already happened, failed with a clear error.
Never left `processing` forever.

Beat also runs `prediction_sweep_unclaimed`: a `starting` prediction that no worker claimed
within PREDICTION_REQUEUE_SECONDS is queued again, and again each such period, until a worker
claims it or PREDICTION_MAX_QUEUE_SECONDS have passed, when it fails with a clear error. The
rule is re-enqueue, not an outbox: the claim is one conditional UPDATE, so when the first
message was only slow, not lost, the second delivery finds the prediction claimed and does
nothing. Never left `starting` forever, so its spending reservation is released too.
"""

import logging
import threading
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from hosting.redis_clients import sync_client
from inference import enqueue, events
from inference.deployments import instances
from inference.models import Prediction
from inference.observability import counters
from inference.representations import prediction_state_json

logger = logging.getLogger(__name__)

# Claims per prediction before a lost one is failed instead of queued again.
MAX_ATTEMPTS = 2
LOST_TWICE = "The worker running this prediction stopped unexpectedly, twice. It was not retried again."


NEVER_CLAIMED = "No worker took this prediction from the queue within {minutes} minutes, so it was not run."
UNSERVED = (
    "[hearth] No worker serving the {sku} hardware is running, so this prediction waits in its queue "
    "until one starts.\n"
)


def _key(prediction_id: str) -> str:
    return f"hearth:alive:{prediction_id}"


def _requeued_key(prediction_id: str) -> str:
    """Set for a period whenever the sweep queues a prediction again: one message a period."""
    return f"hearth:requeued:{prediction_id}"


def _ttl() -> int:
    # Three missed beats before a prediction counts as lost.
    return max(1, int(settings.PREDICTION_HEARTBEAT_SECONDS * 3))


class Heartbeat:
    """Refreshes the keys of the predictions this worker process runs, from one thread."""

    def __init__(self) -> None:
        self._alive: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, prediction_id: str, *, via: redis.client.Pipeline | None = None) -> None:
        """Set the prediction's key now, or `via` a pipeline that the caller sends."""
        (via if via is not None else sync_client()).set(_key(prediction_id), "1", ex=_ttl())
        with self._lock:
            self._alive.add(prediction_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
                self._thread.start()

    def stop(self, prediction_id: str) -> None:
        with self._lock:
            self._alive.discard(prediction_id)
        try:
            sync_client().delete(_key(prediction_id))
        except redis.RedisError:  # Redis unreachable: the key lapses by itself within a TTL
            logger.warning("could not remove the liveness key of %s; it lapses by itself", prediction_id)

    def _beat(self) -> None:
        stopped = threading.Event()
        while not stopped.wait(settings.PREDICTION_HEARTBEAT_SECONDS):
            with self._lock:
                alive = list(self._alive)
            try:
                pipe = sync_client().pipeline(transaction=False)
                for prediction_id in alive:
                    # SET, not EXPIRE: a Redis restarted empty lost the keys, and EXPIRE on a
                    # missing key does nothing, so the sweep took running predictions for lost
                    # and ran them twice (tests/chaos). A key set just after `stop` lingers one TTL.
                    pipe.set(_key(prediction_id), "1", ex=_ttl())
                pipe.execute()
            except Exception:  # a Redis hiccup must not end the heartbeat for good
                logger.exception("heartbeat failed; retrying")


# What queueing a prediction again needs: its SKU's queue, its version (a worker where it is warm
# is preferred) and its deployment's instance cap.
_QUEUED_WITH = ("hardware", "version", "deployment__current_release")
_QUEUE_FIELDS = ("hardware__sku", "version__sha256", "deployment__current_release__max_instances")


def _queue_again(prediction: Prediction) -> None:
    deployment = prediction.deployment
    release = deployment.current_release if deployment is not None else None
    enqueue.run_prediction(
        prediction.id,
        queue=prediction.hardware.sku,
        version=prediction.version.sha256,
        deployment=(deployment.id, release.max_instances) if deployment is not None and release is not None else None,
    )


def prediction_sweep_lost() -> int:
    """Requeue or fail `processing` predictions whose worker stopped beating. Returns how many."""
    claimed_before = timezone.now() - timedelta(seconds=_ttl())
    suspects = list(
        Prediction.objects.select_related(*_QUEUED_WITH)
        .filter(status=Prediction.Status.PROCESSING, started_at__lt=claimed_before)
        .only("id", "attempts", "logs", "created_at", *_QUEUE_FIELDS)
    )
    if not suspects or not _keys_are_current():
        return 0
    pipe = sync_client().pipeline(transaction=False)
    for prediction in suspects:
        pipe.exists(_key(prediction.id))
    lost = [p for p, alive in zip(suspects, pipe.execute(), strict=True) if not alive]
    for prediction in lost:
        if prediction.attempts < MAX_ATTEMPTS:
            _requeue(prediction)
        else:
            _fail(prediction)
    return len(lost)


def _keys_are_current() -> bool:
    """Whether a missing liveness key means a lost worker. A Redis restarted without persistence
    less than a TTL ago has lost every key, and the workers still running have not all beaten
    since: the sweep waits until each has had a TTL to set its key again."""
    uptime = sync_client().info("server")["uptime_in_seconds"]
    if uptime < _ttl():
        logger.warning("Redis restarted %s s ago; lost predictions are looked for after %s s", uptime, _ttl())
        return False
    return True


def _requeue(prediction: Prediction) -> None:
    note = "\n[hearth] The worker running this prediction stopped unexpectedly; it was queued again.\n"
    requeued = Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.PROCESSING).update(
        status=Prediction.Status.STARTING, started_at=None, output=None, logs=prediction.logs + note
    )
    if requeued:
        logger.warning("prediction %s lost its worker; queued again", prediction.id)
        _queue_again(prediction)


def _fail(prediction: Prediction) -> None:
    now = timezone.now()
    failed = Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.PROCESSING).update(
        status=Prediction.Status.FAILED, error=LOST_TWICE, completed_at=now
    )
    if failed:
        logger.warning("prediction %s lost its worker again; failed", prediction.id)
        prediction.refresh_from_db()
        events.publish_done(prediction.id, prediction_state_json(prediction))
        counters.prediction_ended(prediction)  # for /metrics


def prediction_sweep_unclaimed() -> int:
    """Queue again `starting` predictions no worker has claimed for a while; fail those that
    waited past the longest queue time. Returns how many it queued or failed."""
    now = timezone.now()
    period = settings.PREDICTION_REQUEUE_SECONDS
    waiting = list(
        Prediction.objects.select_related(*_QUEUED_WITH)
        .filter(status=Prediction.Status.STARTING, created_at__lt=now - timedelta(seconds=period))
        .only("id", "created_at", *_QUEUE_FIELDS)
    )
    oldest_allowed = now - timedelta(seconds=settings.PREDICTION_MAX_QUEUE_SECONDS)
    expired = [prediction for prediction in waiting if prediction.created_at < oldest_allowed]
    for prediction in expired:
        _fail_unclaimed(prediction)
    waiting = [prediction for prediction in waiting if prediction.created_at >= oldest_allowed]
    if not waiting:
        return len(expired)
    pipe = sync_client().pipeline(transaction=False)
    for prediction in waiting:
        # SET NX: only the first sweep in a period queues it (sweeps may overlap).
        pipe.set(_requeued_key(prediction.id), "1", ex=max(1, int(period)), nx=True)
    due = [prediction for prediction, first in zip(waiting, pipe.execute(), strict=True) if first]
    served = {sku for report in instances.workers() for sku in report["hardware"]}
    for prediction in due:
        logger.warning("prediction %s not claimed after %.0f s; queued again", prediction.id, period)
        _queue_again(prediction)
        if prediction.hardware.sku not in served:
            _note_unserved(prediction)
    return len(expired) + len(due)


def _note_unserved(prediction: Prediction) -> None:
    """Say in its logs, once, why it waits: no worker serves its hardware (it never runs on
    other hardware; it runs when one starts, or fails after PREDICTION_MAX_QUEUE_SECONDS)."""
    note = UNSERVED.format(sku=prediction.hardware.sku)
    noted = (
        Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.STARTING)
        .exclude(logs__contains=note)
        .update(logs=Concat(F("logs"), Value(note)))
    )
    if noted:
        events.publish(prediction.id, "logs", note)


def _fail_unclaimed(prediction: Prediction) -> None:
    error = NEVER_CLAIMED.format(minutes=round(settings.PREDICTION_MAX_QUEUE_SECONDS / 60))
    failed = Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.STARTING).update(
        status=Prediction.Status.FAILED, error=error, completed_at=timezone.now()
    )
    if failed:
        logger.warning("prediction %s never claimed; failed", prediction.id)
        prediction.refresh_from_db()
        events.publish_done(prediction.id, prediction_state_json(prediction))
        counters.prediction_ended(prediction)  # for /metrics
