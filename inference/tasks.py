from celery import shared_task

from inference import execution, liveness


@shared_task(name="inference.run_prediction", acks_late=True, reject_on_worker_lost=True)
def run_prediction(prediction_id: str) -> None:
    """Run one prediction. Queued on the model's hardware SKU queue; safe to deliver twice
    (a prediction that is no longer `starting` is skipped)."""
    execution.prediction_run(prediction_id=prediction_id)


@shared_task(name="inference.sweep_lost_predictions")
def sweep_lost_predictions() -> int:
    """Beat task: requeue or fail predictions whose worker died."""
    return liveness.prediction_sweep_lost()
