from celery import shared_task
from django.conf import settings

from inference import enqueue, webhooks
from inference.files import retention
from inference.models import Prediction
from inference.worker import execution, liveness


@shared_task(name=enqueue.RUN_PREDICTION, acks_late=True, reject_on_worker_lost=True)
def run_prediction(prediction_id: str) -> None:
    """Run one prediction. Queued on the model's hardware SKU queue; safe to deliver twice
    (a prediction that is no longer `starting` is skipped)."""
    execution.prediction_run(prediction_id=prediction_id)


@shared_task(name=enqueue.SWEEP_LOST_PREDICTIONS)
def sweep_lost_predictions() -> int:
    """Beat task: requeue or fail predictions whose worker died or whose queue message was lost."""
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


@shared_task(name=enqueue.REMOVE_EXPIRED_DATA)
def remove_expired_data() -> dict[str, int]:
    """Beat task: remove the data of old API predictions and expired files."""
    return retention.remove_expired_data()
