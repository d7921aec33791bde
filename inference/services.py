"""Writes on predictions: create (admission, insert, enqueue) and cancel. The API and the
playground both call these, so their rules cannot differ. Pushing models is `registry.push`."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.disabling import refuse_if_disabled
from billing.services import admission_check, needs_admission_check
from inference import cancellation, enqueue, events
from inference.models import Prediction, Version
from inference.representations import prediction_state_json


def prediction_create(
    *,
    account: Account,
    version: Version,
    input: dict,
    source: str = Prediction.Source.API,
    webhook: str = "",
    webhook_events_filter: list[str] | None = None,
    cancel_after: timedelta | None = None,
) -> Prediction:
    """Store a `starting` prediction and queue it on its model's hardware queue after commit.

    `cancel_after` sets a deadline from now, after which the prediction is canceled."""
    model = version.model
    refuse_if_disabled(version=version)
    fields = {
        "model": model,
        "version": version,
        "input": input,
        "source": source,
        "webhook": webhook,
        "webhook_events_filter": webhook_events_filter or [],
        "deadline": timezone.now() + cancel_after if cancel_after else None,
    }
    if needs_admission_check(account):
        with transaction.atomic():
            # The lock makes concurrent creates of one account check the limit one at a time.
            account = Account.objects.select_for_update().get(pk=account.pk)
            admission_check(account=account, hardware=model.hardware)
            prediction = Prediction.objects.create(account=account, **fields)
    else:
        # A single INSERT is atomic on its own: no BEGIN/COMMIT round trips on the hot path.
        prediction = Prediction.objects.create(account=account, **fields)
    queue = model.hardware.sku
    transaction.on_commit(lambda: enqueue.run_prediction(prediction.id, queue=queue))
    return prediction


def prediction_cancel(*, prediction: Prediction) -> Prediction:
    """Cancel at once if still queued; otherwise ask the worker running it to stop it."""
    if prediction.is_terminal:
        return prediction
    now = timezone.now()
    canceled_in_queue = Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.STARTING).update(
        status=Prediction.Status.CANCELED, completed_at=now
    )
    if canceled_in_queue:
        prediction.status = Prediction.Status.CANCELED
        prediction.completed_at = now
        events.publish_done(prediction.id, prediction_state_json(prediction))
    else:
        cancellation.request_cancel(prediction.id)
        prediction.refresh_from_db()
    return prediction
