"""Writes on trainings: creating one (its version, destination and input checked, then queued as
a prediction of kind `training`), and the version a training that succeeded makes.

The trained version is the base version's package and environment with one more of Cog's
managed weights: the trained weights file, stored once in the platform's storage as
`weights/<sha256>` (as uploads named in cog.yaml `weights:` are), put in the unpacked project
at `.cog/weights/<its name>` (`.cog` is never part of a package, so it cannot clash) and handed
to the predictor as COG_WEIGHTS, which setup(weights) receives. Its id is the digest of the
base version's id and the weights' digest and name: the same weights trained from the same
version make the same version. (The name counts because workers unpack a version once per id:
two versions of one id must put their weights at one path.)
"""

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.files import File as DjangoFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.disabling import refuse_if_disabled
from hosting.problems import ApiProblem
from inference import selectors, services
from inference.files import inputs, storage
from inference.files.outputs import OutputFileError, OutputFiles
from inference.models import Model, Prediction, Version
from inference.registry.weights import STORAGE_PREFIX, file_digest
from inference.runtime.validation import InputValidationError
from inference.trainings import selectors as training_selectors

# Where a trained version's weights go in its unpacked project (cog.yaml `weights:` targets are
# relative to it, as Cog's are to /src).
TRAINED_WEIGHTS_DIR = ".cog/weights"
_DESTINATION = re.compile(r"^(?P<owner>[^/\s]+)/(?P<name>[^/\s]+)$")


def _invalid(field: str, title: str, detail: str) -> ApiProblem:
    return ApiProblem(422, title, detail, invalid_fields=[{"type": "invalid", "field": field, "description": detail}])


def trainable_version(*, account: Account, owner: str, name: str, version_id: str) -> Version:
    """The version a training starts from: of a model the account may run (else 404), with a
    cog.yaml `train:` entry point (else 422)."""
    model = selectors.model_get(account=account, owner=owner, name=name)
    version = selectors.version_get(model=model, version_id=version_id)
    version.model = model
    if not version.trainable:
        raise _invalid(
            "version",
            "Version cannot be trained",
            f"{model.full_name}:{version.sha256} has no training entry point (cog.yaml `train:`).",
        )
    return version


def destination_model(*, account: Account, destination: str) -> Model:
    """The model named "owner/name" that the account owns: malformed is a 422 naming
    `destination`, missing or anyone else's a 404."""
    match = _DESTINATION.match(destination)
    if match is None:
        raise _invalid(
            "destination", "Invalid destination", f'destination must be a model as "owner/name", not {destination!r}.'
        )
    return training_selectors.destination_get(account=account, owner=match["owner"], name=match["name"])


def training_input(*, account: Account, version: Version, input: Any) -> dict[str, Any]:
    """`input` checked against the version's TrainingInput, and its files against what the
    account may read; raises InvalidInput (422) as a prediction's input does."""
    try:
        validator = version.training_input_validator
        cleaned = validator(input)
        inputs.check(account=account, validator=validator, cleaned=cleaned)
    except InputValidationError as exc:
        raise services.InvalidInput(exc.invalid_fields) from exc
    return cleaned


def training_create(
    *,
    account: Account,
    version: Version,
    destination: str,
    input: Any,
    source: str = Prediction.Source.API,
    webhook: str = "",
    webhook_events_filter: list[str] | None = None,
    cancel_after: timedelta | None = None,
) -> Prediction:
    """A `starting` training of `version` into `destination`, queued on the version's model's
    hardware like a prediction: admitted against the spending limit, billed per second, and
    with no default run-time limit (a training takes as long as it takes; cancel it, or give it
    `cancel_after`, a deadline from now, as Cancel-After gives a prediction one)."""
    refuse_if_disabled(version=version)
    model = destination_model(account=account, destination=destination)
    fields = {
        "kind": Prediction.Kind.TRAINING,
        "model": version.model,
        "version": version,
        "hardware": version.model.hardware,
        "destination": model,
        "input": training_input(account=account, version=version, input=input),
        "source": source,
        "webhook": webhook,
        "webhook_events_filter": webhook_events_filter or [],
        "deadline": timezone.now() + cancel_after if cancel_after else None,
    }
    # No passing on to a worker where the version is warm: a training boots a runner of its own.
    return services.prediction_queue(account=account, fields=fields, warm_version=None)


# --- On the worker, when train() has succeeded ---------------------------------------------------


def training_output(*, training: Prediction, output: Any, outputs: OutputFiles) -> dict[str, Any]:
    """What a succeeded training answers: the version its weights made (`owner/name:id`, as the
    Python client parses it) and the weights' URL. `output` is what train() returned, its files
    as paths in the training's output directory; raises OutputFileError when it holds no weights
    file or the version cannot be made (the training then fails, billed as it ran)."""
    weights = _weights_file(output, outputs.directory)
    stored = outputs.store(output)  # the weights (and any other file) as download URLs
    version = trained_version_create(training=training, weights=weights)
    fields = stored if isinstance(stored, dict) else {"weights": stored}
    return {**fields, "version": f"{version.model.full_name}:{version.sha256}", "weights": fields["weights"]}


def _weights_file(output: Any, directory: Path) -> Path:
    value = output.get("weights") if isinstance(output, dict) else output
    if not isinstance(value, str) or not value.startswith(f"{directory}/"):
        raise OutputFileError("train() returned no weights file (a cog.Path, or an output with a weights Path)")
    path = Path(value)
    if path.is_symlink() or not path.resolve().is_relative_to(directory) or not path.is_file():
        raise OutputFileError(f"the trained weights {path.name} are not a file")
    return path


def trained_version_id(base: Version, weights_sha256: str, target: str) -> str:
    """Content-derived: the same weights (bytes and name) trained from the same version give the
    same id, whichever destination they go to."""
    material = json.dumps(
        {"trained_from": base.sha256, "weights": weights_sha256, "target": target}, separators=(",", ":")
    )
    return hashlib.sha256(material.encode()).hexdigest()


def trained_version_create(*, training: Prediction, weights: Path) -> Version:
    """Store the weights and make (or find) the destination's version that runs the base
    version's predictor with them; it becomes the destination's latest version."""
    sha256, size = file_digest(weights)
    name = f"{STORAGE_PREFIX}{sha256}"
    try:
        if not default_storage.exists(name):
            with weights.open("rb") as handle:
                name = default_storage.save(name, DjangoFile(handle))
    except Exception as exc:  # any storage backend's failure: the training fails, the worker lives
        raise OutputFileError(f"could not store the trained weights: {exc}") from exc
    base = training.version
    target = f"{TRAINED_WEIGHTS_DIR}/{storage.safe_filename(weights.name, 'weights')}"
    record = {
        "name": "trained",
        "source": f"training {training.id}",
        "kind": "file",
        "target": target,
        "object": name,
        "sha256": sha256,
        "size": size,
    }
    version_id = trained_version_id(base, sha256, target)
    with transaction.atomic():
        if training.destination_id is None:  # the destination was deleted while it trained
            raise OutputFileError("the destination model no longer exists")
        destination = Model.objects.select_for_update().select_related("owner").get(pk=training.destination_id)
        version = destination.versions.filter(sha256=version_id).first()
        if version is None:
            version = Version(
                model=destination,
                sha256=version_id,
                predictor_ref=base.predictor_ref,
                openapi_schema=base.openapi_schema,
                cog_version=base.cog_version,
                config={
                    **base.config,
                    "weights": [*base.config.get("weights", []), record],
                    # inference.worker.execution sets COG_WEIGHTS to this path in the project.
                    "trained_weights": target,
                },
                environment=base.environment,
                build_log=f"Trained by training {training.id} from {base.model.full_name}:{base.sha256}\n",
            )
            version.package.name = base.package.name  # the same package bytes: shared, not copied
            version.save()
        destination.latest_version = version
        destination.save(update_fields=["latest_version"])
        Prediction.objects.filter(pk=training.pk).update(trained_version=version)
    training.trained_version = version
    version.model = destination
    return version
