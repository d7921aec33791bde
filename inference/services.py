"""Writes on predictions: create (admission, insert, enqueue) and cancel. The API and the
playground both call these, so their rules cannot differ. Pushing models is `registry.push`."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.disabling import refuse_if_disabled
from billing.services import admission_check, needs_admission_check, usage_record_for_cache_hit
from hosting.problems import ApiProblem
from inference import cancellation, enqueue, events, prediction_cache, webhooks
from inference.files import inputs
from inference.models import Deployment, Prediction, Version
from inference.observability import counters
from inference.representations import prediction_state_json
from inference.runtime.validation import InputValidationError


class InvalidInput(ApiProblem):
    """Input the version's schema refuses (422); `invalid_fields` names each field and why."""

    def __init__(self, invalid_fields: list[dict[str, str]]) -> None:
        detail = "".join(f"- {field['field']}: {field['description']}\n" for field in invalid_fields)
        super().__init__(422, "Input validation failed", detail, invalid_fields=invalid_fields)


def prediction_input(*, account: Account, version: Version, input: Any) -> dict[str, Any]:
    """`input` checked against the version's schema (types, required, bounds, choices; defaults
    filled in) and its file inputs against what the account may read. Raises InvalidInput."""
    try:
        validator = version.input_validator
        cleaned = validator(input)
        inputs.check(account=account, validator=validator, cleaned=cleaned)
    except InputValidationError as exc:
        raise InvalidInput(exc.invalid_fields) from exc
    return cleaned


def prediction_create(
    *,
    account: Account,
    version: Version,
    input: dict,
    source: str = Prediction.Source.API,
    webhook: str = "",
    webhook_events_filter: list[str] | None = None,
    cancel_after: timedelta | None = None,
    deployment: Deployment | None = None,
    use_cache: bool = False,
) -> Prediction:
    """Validate `input` (`prediction_input`), store a `starting` prediction and queue it on its
    hardware's queue after commit. The API and the playground both create through here.

    `cancel_after` sets a deadline from now, after which the prediction is canceled. Made
    through a `deployment`, it runs its current release: that release's version (the caller
    passes it) on that release's hardware. With `use_cache` (`Prefer: cache`, or a deployment
    that caches), an output cached for the same input answers at once
    (inference/prediction_cache.py): the prediction is made `succeeded`, and nothing is queued."""
    model = version.model
    hardware = model.hardware
    release = deployment.current_release if deployment is not None else None
    if release is not None:
        hardware = release.hardware
    refuse_if_disabled(version=version)
    cleaned = prediction_input(account=account, version=version, input=input)
    fields = {
        "model": model,
        "version": version,
        "hardware": hardware,
        "deployment": deployment,
        "input": cleaned,
        "source": source,
        "webhook": webhook,
        "webhook_events_filter": webhook_events_filter or [],
        "deadline": timezone.now() + cancel_after if cancel_after else None,
    }
    if use_cache or (deployment is not None and deployment.cache_predictions):
        key = prediction_cache.cache_key(
            account=account, version=version, validator=version.input_validator, cleaned=cleaned
        )
        earlier = prediction_cache.cached_source(key) if key else None
        if earlier is not None:
            return _answered_from_cache(account, earlier, fields)
        fields["cache_key"] = key or ""
    instances = (release.deployment_id, release.max_instances) if release is not None else None
    return prediction_queue(account=account, fields=fields, warm_version=version.sha256, deployment=instances)


def prediction_queue(
    *,
    account: Account,
    fields: dict[str, Any],
    warm_version: str | None,
    deployment: tuple[int, int] | None = None,
) -> Prediction:
    """Store a `starting` prediction of `fields` (admitted first where the account has a spending
    limit or credit) and queue it on its hardware's queue after commit. Trainings are queued
    through here too (inference.trainings.services). `warm_version`: a worker without that
    version warm may pass it on to one that has it (None: run it wherever it lands).
    `deployment`: (id, max_instances) of the deployment it runs through, whose cap it keeps."""
    hardware = fields["hardware"]
    if needs_admission_check(account):
        with transaction.atomic():
            # The lock makes concurrent creates of one account check the limit one at a time.
            account = Account.objects.select_for_update().get(pk=account.pk)
            admission_check(account=account, hardware=hardware)
            prediction = Prediction.objects.create(
                account=account, reserved_seconds=settings.BILLING_RESERVATION_SECONDS, **fields
            )
    else:
        # A single INSERT is atomic on its own: no BEGIN/COMMIT round trips on the hot path.
        prediction = Prediction.objects.create(account=account, **fields)
    queue = hardware.sku
    transaction.on_commit(
        lambda: enqueue.run_prediction(prediction.id, queue=queue, version=warm_version, deployment=deployment)
    )
    return prediction


def _answered_from_cache(account: Account, source: Prediction, fields: dict[str, Any]) -> Prediction:
    """A prediction finished as it is made, with `source`'s output: no worker, no charge (and
    so no admission check; its usage record says what it saved), its `done` event and
    `completed` webhook sent as a run's are."""
    now = timezone.now()
    hit = prediction_cache.hit_fields(source)
    with transaction.atomic():
        prediction = Prediction.objects.create(account=account, started_at=now, completed_at=now, **fields, **hit)
        usage_record_for_cache_hit(prediction=prediction, saved_seconds=hit["metrics"]["cached_predict_time"])
    events.publish_done(prediction.id, prediction_state_json(prediction))
    webhooks.queue_event(prediction, "completed")
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
        counters.prediction_ended(prediction)  # for /metrics
    else:
        cancellation.request_cancel(prediction.id)
        prediction.refresh_from_db()
    return prediction
