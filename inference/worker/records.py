"""The worker's reads and writes on a prediction's hot path, each as few round trips as it can.

Through the ORM, claiming a prediction took three queries (the conditional UPDATE, a load
with four joins, the model's run count) and recording its end six (get_or_create with its
savepoints, the credit draw, the final UPDATE, the commit): about 7 ms of a 17 ms echo
prediction on a 2-core machine, nearly all of it Python around the SQL (ARCHITECTURE §11).
Here the claim is one `UPDATE ... RETURNING`, the version and model it runs come from a
short per-process cache, and on PostgreSQL the end of a billed run is one statement whose
CTEs write the charge, draw prepaid credit and count the run with the final state.

Other databases (SQLite stands in for Postgres under `make run`) and the ends that bill
nothing (canceled before predict began, an unreadable input, a failed setup) take the ORM
path, `record_outcome_orm`; both paths keep the same rules, and the tests run both.
"""

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F

from billing.models import Hardware
from billing.services import USAGE_RECORD_CTES, usage_record_for, usage_record_sql_params
from hosting.expiring_cache import ExpiringCache
from inference import events
from inference.models import Model, Prediction, Version
from inference.observability import counters
from inference.representations import prediction_state_json

logger = logging.getLogger(__name__)

T = TypeVar("T")

# (version id, model id) -> the version with its model, and the model's owner and hardware
_run_contexts: ExpiringCache[Version] = ExpiringCache(seconds=lambda: settings.MODEL_CACHE_SECONDS, max_entries=1_000)


# Waits between tries of the claim when its connection fails (one a database restart left dead
# in the pool): the first at once, on the next connection. A claim that failed ended its task,
# and the prediction waited PREDICTION_REQUEUE_SECONDS for the sweep (tests/chaos).
CLAIM_RETRY_DELAYS = (0.0, 0.2, 0.5, 1.0, 2.0, 4.0)


def claim(prediction_id: str, *, now, fair: bool = False) -> Prediction | None:
    """Move a `starting` prediction to `processing` and return it; None if it is no longer
    `starting` (canceled in the queue, or claimed by another delivery of the task).

    `fair`: the message names one prediction, but it runs the one that is fairest to run next on
    that prediction's hardware (`_FAIREST`): every message still runs one prediction while any
    waits, so none is lost or run twice, and one account's thousand queued predictions do not
    make every other account wait behind them.

    Tried again on a new connection when its connection fails. Should the connection die after
    the UPDATE committed, the next try finds the prediction claimed and returns None (or, fair,
    claims another): no heartbeat ever starts for it, so the sweep finds it lost and queues it
    again."""
    return _retried_on_a_new_connection(
        lambda: _claim_once(prediction_id, now=now, fair=fair),
        delays=CLAIM_RETRY_DELAYS,
        what=f"claim of prediction {prediction_id}",
    )


# The fairest prediction waiting on the named prediction's hardware, claimed in one statement:
# of the accounts with one waiting (not through a deployment, whose instances are its own), the
# one that started the fewest on that hardware in the last FAIR_SHARE_WINDOW_SECONDS for its
# weight (Account.fair_share_weight), then the oldest. The starts are counted only when more
# than one account waits (a one-time filter: the usual case, one account or none, costs one
# index probe more than the exact claim), and only for those accounts (an index on account,
# hardware, started_at). SKIP LOCKED: two workers claiming at once take two predictions
# instead of one waiting for the other.
_FAIREST = """
WITH named AS (
    SELECT hardware_id FROM inference_prediction WHERE id = %(named)s
), waiting AS (
    SELECT DISTINCT account_id FROM inference_prediction
    WHERE status = %(starting)s AND deployment_id IS NULL AND hardware_id = (SELECT hardware_id FROM named)
), served AS (
    SELECT account_id, count(*) AS started FROM inference_prediction
    WHERE account_id IN (SELECT account_id FROM waiting)
      AND hardware_id = (SELECT hardware_id FROM named) AND started_at >= %(since)s
      AND (SELECT count(*) FROM waiting) > 1
    GROUP BY account_id
), chosen AS (
    SELECT p.id FROM inference_prediction p
    JOIN accounts_account a ON a.id = p.account_id
    LEFT JOIN served ON served.account_id = p.account_id
    WHERE p.status = %(starting)s AND p.deployment_id IS NULL AND p.hardware_id = (SELECT hardware_id FROM named)
    ORDER BY COALESCE(served.started, 0)::float / a.fair_share_weight, p.created_at, p.id
    LIMIT 1
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE inference_prediction SET status = %(processing)s, started_at = %(now)s, attempts = attempts + 1
WHERE id = (SELECT id FROM chosen) AND status = %(starting)s
RETURNING *
"""


def _claim_once(prediction_id: str, *, now, fair: bool = False) -> Prediction | None:
    if fair:
        claimed = Prediction.objects.raw(
            _FAIREST,
            {
                "named": prediction_id,
                "since": now - timedelta(seconds=settings.FAIR_SHARE_WINDOW_SECONDS),
                "now": now,
                "starting": Prediction.Status.STARTING,
                "processing": Prediction.Status.PROCESSING,
            },
        )
    else:
        claimed = Prediction.objects.raw(
            "UPDATE inference_prediction SET status = %s, started_at = %s, attempts = attempts + 1 "
            "WHERE id = %s AND status = %s RETURNING *",
            [Prediction.Status.PROCESSING, now, prediction_id, Prediction.Status.STARTING],
        )
    prediction = next(iter(claimed), None)
    if prediction is not None:
        prediction.version = run_context(version_id=prediction.version_id, model_id=prediction.model_id)
        prediction.model = prediction.version.model
        prediction.hardware = _hardware(prediction.hardware_id, usual=prediction.model.hardware)
    return prediction


# SKU id -> the SKU with its price; only deployments' predictions run on another SKU than their model's.
_hardware_by_id: ExpiringCache[Hardware] = ExpiringCache(seconds=lambda: settings.MODEL_CACHE_SECONDS, max_entries=100)


def _hardware(hardware_id: int, *, usual: Hardware) -> Hardware:
    if hardware_id == usual.pk:
        return usual
    return _hardware_by_id.get_or_load(hardware_id, lambda: Hardware.objects.get(pk=hardware_id))


def run_context(*, version_id: int, model_id: int) -> Version:
    """The version a prediction runs, as the model it was made for (with owner and hardware).

    A version never changes; the model's settings (hardware and its price, idle timeout, keep
    warm) reach a worker within MODEL_CACHE_SECONDS, as they reach the web processes."""

    def load() -> Version:
        version = Version.objects.get(pk=version_id)
        version.model = Model.objects.select_related("owner", "hardware").get(pk=model_id)
        return version

    return _run_contexts.get_or_load((version_id, model_id), load)


# Waits between tries of the final write when the database connection fails under it: about
# a minute in all, for a PostgreSQL that restarts or fails over.
FINAL_WRITE_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def record_outcome(prediction: Prediction, *, predict_time: float | None) -> None:
    """Write the prediction's final state (already set on it), bill the run if it ran
    (`predict_time`), and count the run on its model, all in one transaction. A retried task
    finds the first charge: it neither bills nor draws credit again, and its `metrics.cost`
    is the charge made. Only a `processing` prediction's state is written, and the run is
    counted only with it.

    A connection that dies under the write (a terminated backend, a restarted PostgreSQL) is
    replaced and the write tried again: the prediction has run, and a result that could not be
    saved must not send it back to the queue to run twice. Every try is idempotent."""
    _retried_on_a_new_connection(
        lambda: _record_outcome_once(prediction, predict_time=predict_time),
        delays=FINAL_WRITE_RETRY_DELAYS,
        what=f"final write of prediction {prediction.id}",
    )


def _retried_on_a_new_connection(operation: Callable[[], T], *, delays: Sequence[float], what: str) -> T:
    """`operation()`, tried again after each delay while its database connection fails; the last
    failure is raised. Only for operations that are safe to run twice."""
    for delay in delays:
        try:
            return operation()
        except (OperationalError, InterfaceError):
            logger.warning("%s failed; retrying in %.1f s", what, delay)
            connection.close()  # the broken connection leaves the pool; the next try gets a new one
            time.sleep(delay)
    return operation()


# Waits between tries of the `done` event when Redis does not answer (restarting, failing over):
# about half a minute in all.
DONE_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def announce_done(prediction: Prediction) -> None:
    """Append the `done` event with the final state just recorded. Every reader waiting on the
    prediction (SSE streams, `Prefer: wait`, the playground) ends on it: one lost while Redis
    restarted left their streams open for good (tests/chaos). So it is tried again until Redis
    answers; a `done` appended twice is harmless, since readers stop at the first."""
    state = prediction_state_json(prediction)
    counters.prediction_ended(prediction)  # for /metrics; kept in memory, sent to Redis in batches
    for delay in (*DONE_RETRY_DELAYS, None):
        try:
            events.publish_done(prediction.id, state)
            return
        except (redis.ConnectionError, redis.TimeoutError):
            if delay is None:
                # Its state is in Postgres, where GET and the dashboard read it.
                logger.error("the done event of prediction %s could not be sent; Redis did not answer", prediction.id)
                return
            logger.warning("the done event of prediction %s failed; retrying in %.1f s", prediction.id, delay)
            time.sleep(delay)


def _record_outcome_once(prediction: Prediction, *, predict_time: float | None) -> None:
    if predict_time and connection.vendor == "postgresql":
        _record_billed_outcome_postgres(prediction, predict_time=predict_time)
    else:
        record_outcome_orm(prediction, predict_time=predict_time)


def record_outcome_orm(prediction: Prediction, *, predict_time: float | None) -> None:
    with transaction.atomic():
        if predict_time:
            usage = usage_record_for(prediction=prediction, predict_time=predict_time)
            prediction.metrics["cost"] = str(usage.amount)
        finished = Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.PROCESSING).update(
            status=prediction.status,
            output=prediction.output,
            error=prediction.error,
            logs=prediction.logs,
            metrics=prediction.metrics,
            completed_at=prediction.completed_at,
        )
        if finished:  # not again for a write retried after it committed
            Model.objects.filter(pk=prediction.model_id).update(run_count=F("run_count") + 1)


# One statement: billing's charge (and credit draw), the run count and the final state. All
# parts see one snapshot and run in one implicit transaction; the charge lands in
# `metrics.cost` from `usage`, so a retry shows the amount actually billed.
_RECORD_BILLED_OUTCOME = f"""
WITH {USAGE_RECORD_CTES}, finished AS (
    UPDATE inference_prediction
    SET status = %(status)s, output = %(output)s, error = %(error)s, logs = %(logs)s,
        metrics = %(metrics)s::jsonb || (SELECT jsonb_build_object('cost', amount::text) FROM usage),
        completed_at = %(completed_at)s
    WHERE id = %(id)s AND status = 'processing'
    RETURNING id
), counted AS (
    UPDATE inference_model SET run_count = run_count + 1
    WHERE id = %(model_id)s AND EXISTS (SELECT 1 FROM finished)
)
SELECT amount FROM usage
"""


def _record_billed_outcome_postgres(prediction: Prediction, *, predict_time: float) -> None:
    if prediction.completed_at is None:  # the usage record is dated when the run completed
        raise ValueError("record_outcome needs the prediction's completed_at set")
    json_field = Prediction._meta.get_field("output")
    params: dict[str, Any] = {
        **usage_record_sql_params(prediction=prediction, predict_time=predict_time, at=prediction.completed_at),
        "id": prediction.pk,
        "model_id": prediction.model_id,
        "status": prediction.status,
        "output": json_field.get_db_prep_save(prediction.output, connection),
        "error": prediction.error,
        "logs": prediction.logs,
        "metrics": json.dumps(prediction.metrics),
        "completed_at": prediction.completed_at,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_BILLED_OUTCOME, params)
        (amount,) = cursor.fetchone()
    prediction.metrics["cost"] = str(amount)
