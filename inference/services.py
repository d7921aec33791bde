"""Writes of the inference app. Views and tasks call these; they hold the business rules."""

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zlib
from datetime import timedelta
from pathlib import Path

import cog
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.models import Hardware
from billing.disabling import refuse_if_disabled
from billing.services import needs_admission_check, admission_check
from inference import cancellation, events
from inference.models import Model, Prediction, Version
from inference.packaging import (
    PackageError,
    build_package,
    extract_package,
    package_digest,
    read_cog_config,
    unmet_requirements,
)
from inference.serializers import prediction_state_json
from inference.tasks import run_prediction as run_prediction_task

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_TIMEOUT_SECONDS = 120


@transaction.atomic  # a duplicate name rolls back only this, not the caller's transaction
def model_create(
    *, owner: Account, name: str, hardware: Hardware, visibility: str = Model.Visibility.PRIVATE, **details: str
) -> Model:
    return Model.objects.create(owner=owner, name=name, hardware=hardware, visibility=visibility, **details)


def _schema_for(project_dir: Path, predictor_ref: str) -> dict:
    """Generate the OpenAPI schema in a child process: user code never runs in ours."""
    completed = subprocess.run(
        [sys.executable, "-m", "inference.runtime.schema", str(project_dir), predictor_ref],
        capture_output=True,
        text=True,
        cwd=project_dir,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=SCHEMA_TIMEOUT_SECONDS,
        check=False,
    )
    try:
        document = json.loads(completed.stdout or "{}")
    except json.JSONDecodeError:
        document = {}
    if completed.returncode != 0 or "components" not in document:
        stderr_tail = completed.stderr.strip().splitlines()[-1:] or ["unknown error"]
        reason = document.get("error") or stderr_tail[0]
        raise PackageError(f"Could not read the predictor {predictor_ref}: {reason}")
    return document


@transaction.atomic
def version_push(*, model: Model, project_dir: Path) -> Version:
    """Package a Cog directory as a new version of `model` (the same content gives the same version)."""
    config = read_cog_config(project_dir)
    unmet = unmet_requirements(config.python_packages)
    if unmet:
        raise PackageError(f"cog.yaml python packages are not available on this platform: {', '.join(unmet)}")
    archive = build_package(project_dir)
    digest = package_digest(archive)
    version = model.versions.filter(sha256=digest).first()
    if version is None:
        schema = _schema_for(project_dir, config.predictor_ref)
        version = Version(
            model=model,
            sha256=digest,
            predictor_ref=config.predictor_ref,
            openapi_schema=schema,
            cog_version=cog.__version__,
            config=config.as_json(),
        )
        version.package.save(f"{digest}.tar.gz", ContentFile(archive), save=False)
        version.save()
    model.latest_version = version
    model.save(update_fields=["latest_version"])
    return version


def version_push_archive(*, model: Model, archive: Path) -> Version:
    """A version from an uploaded package archive: unpacked, then pushed like a directory,
    so the version id is computed here and matches a local `manage.py push` of the same files."""
    with tempfile.TemporaryDirectory(prefix="hearth-upload-") as scratch:
        project_dir = Path(scratch) / "package"
        try:
            extract_package(archive, project_dir)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise PackageError(f"The upload is not a readable .tar.gz package: {exc}") from exc
        return version_push(model=model, project_dir=project_dir)


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
    transaction.on_commit(lambda: run_prediction_task.apply_async(args=[prediction.id], queue=queue))
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
