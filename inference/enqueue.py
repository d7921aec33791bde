"""Putting work on the Celery queues, by task name.

Web code (creating or cancelling a prediction) and the worker's own sweeps send tasks by name,
so nothing the web process imports pulls in `inference.worker`, whose import builds the runner
pool. The worker registers the task bodies under these names in `inference/worker/tasks.py`.
"""

from collections.abc import Mapping
from typing import Any

from hosting.celery import app

RUN_PREDICTION = "inference.run_prediction"
DELIVER_WEBHOOK = "inference.deliver_webhook"
SWEEP_LOST_PREDICTIONS = "inference.sweep_lost_predictions"
REMOVE_EXPIRED_DATA = "inference.remove_expired_data"


def run_prediction(
    prediction_id: str,
    *,
    queue: str,
    version: str | None = None,
    forwarded: bool = False,
    deployment: tuple[int, int] | None = None,
) -> None:
    """Queue a prediction on its hardware's queue (one queue per SKU), or on one worker's own
    queue (`forwarded`: to a worker where its `version` is warm). With `version` given, a worker
    without it warm may pass the prediction on to one that has it (inference/worker/tasks.py).
    `deployment` is (id, max_instances) for a deployment's prediction: at most that many
    workers run it at once."""
    kwargs: dict[str, Any] = {"version": version, "forwarded": forwarded}
    if deployment is not None:
        kwargs["deployment"], kwargs["max_instances"] = deployment
    app.send_task(RUN_PREDICTION, args=[prediction_id], kwargs=kwargs, queue=queue)


def deliver_webhook(*, prediction_id: str, event: str, body: Mapping[str, Any], message_id: str) -> None:
    app.send_task(DELIVER_WEBHOOK, args=[prediction_id, event, body, message_id])


def remove_expired_data() -> None:
    """What beat sends on its schedule (settings.CELERY_BEAT_SCHEDULE); tests send it to a running worker."""
    app.send_task(REMOVE_EXPIRED_DATA)
