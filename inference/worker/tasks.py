import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from hosting.redis_clients import sync_client
from inference import enqueue, webhooks
from inference.deployments import instances
from inference.files import retention
from inference.models import Prediction
from inference.observability import resources
from inference.worker import execution, liveness

logger = logging.getLogger(__name__)


@shared_task(name=enqueue.RUN_PREDICTION, bind=True, acks_late=True, reject_on_worker_lost=True)
def run_prediction(
    self: Task,
    prediction_id: str,
    version: str | None = None,
    forwarded: bool = False,
    deployment: int | None = None,
    max_instances: int | None = None,
) -> None:
    """Run one prediction. Queued on its hardware SKU's queue; safe to deliver twice (a
    prediction that is no longer `starting` is skipped). A worker without its `version` warm
    passes it, once, to a worker of the same SKU where it is warm and idle, if there is one.
    A `deployment`'s prediction runs only on a worker holding one of its `max_instances`
    instance slots, and is passed, once, to one that does when they are all taken."""
    sku = (self.request.delivery_info or {}).get("routing_key")  # the SKU queue it came from
    if version and sku and not forwarded:
        if deployment is not None and max_instances:
            passed = execution.passed_on_for_deployment(
                prediction_id, deployment_id=deployment, version=version, hardware=sku, max_instances=max_instances
            )
        else:
            passed = execution.passed_to_warm_worker(prediction_id, version=version, hardware=sku)
        if passed:
            return
    # From its SKU's shared queue, a message runs the fairest prediction waiting there; one
    # passed to this worker, or a deployment's (its instances are its own), runs as named.
    execution.prediction_run(prediction_id=prediction_id, fair=not forwarded and deployment is None)


def _first_of_period(task: Task) -> bool:
    """False for a beat message whose period another beat scheduler's message already ran: two
    beats (a second one started by mistake, or two during a rolling update) never double-run a
    job. Messages sent by hand (tests, operators) carry no period and always run."""
    period = getattr(task.request, "beat_period", None) or (task.request.headers or {}).get("beat_period")
    if not period:
        return True
    # Expires before the next period's message comes, so that one runs.
    taken = sync_client().set(f"hearth:beat:{task.name}", "1", nx=True, px=max(1, int(float(period) * 800)))
    if not taken:
        logger.info("%s already ran in this period (a second beat scheduler?); skipped", task.name)
    return bool(taken)


@shared_task(name=enqueue.SWEEP_LOST_PREDICTIONS, bind=True)
def sweep_lost_predictions(self) -> int:
    """Beat task: requeue or fail predictions whose worker died or whose queue message was lost."""
    if not _first_of_period(self):
        return 0
    return liveness.prediction_sweep_lost() + liveness.prediction_sweep_unclaimed()


@shared_task(name=enqueue.DELIVER_WEBHOOK, bind=True, acks_late=True)
def deliver_webhook(self, prediction_id: str, event: str, body: dict, message_id: str) -> None:
    """Send one webhook event. `completed` is retried with exponential backoff (same
    message id) on connection errors and non-2xx answers; other events are sent once."""
    prediction = Prediction.objects.select_related("account").filter(pk=prediction_id).first()
    if prediction is None:
        return
    attempt = self.request.retries + 1
    delivered = webhooks.deliver(prediction=prediction, event=event, body=body, message_id=message_id, attempt=attempt)
    if not delivered and event == "completed" and attempt <= settings.WEBHOOK_MAX_RETRIES:
        raise self.retry(countdown=settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


@shared_task(name=enqueue.REMOVE_EXPIRED_DATA, bind=True)
def remove_expired_data(self) -> dict[str, int]:
    """Beat task: remove the data of old API predictions and expired files."""
    if not _first_of_period(self):
        return {}
    return retention.remove_expired_data()


@worker_ready.connect
def _keep_deployment_instances(sender: Any, **_: object) -> None:
    """Deployments' minimum instances are kept by the worker processes themselves; each also
    consumes a queue of its own, where other workers pass predictions whose version it has warm."""
    execution.instance_keeper.start()
    sender.add_task_queue(instances.worker_queue(execution.instance_keeper.worker))


@worker_ready.connect
def _report_resources(sender: Any, **_: object) -> None:
    """Runner memory and GPUs, reported to Redis for /metrics (inference/observability/resources.py)."""
    resources.reporter.start(execution.instance_keeper.worker)
