"""Pushing models: creating a model, and packaging a Cog directory or an uploaded archive as a version.

`hearth push`, `manage.py push` and `POST /v1/models/{owner}/{name}/versions` all end here.
"""

import json
import os
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cog
from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import Account
from billing.models import Hardware
from inference.models import Model, Version
from inference.registry import environments, resolution, weights
from inference.registry.packaging import (
    CogConfig,
    PackageError,
    build_package,
    extract_package,
    package_digest,
    read_cog_config,
)
from inference.registry.uv_commands import Log
from inference.runtime.runner import module_command

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_TIMEOUT_SECONDS = 120


@transaction.atomic  # a duplicate name rolls back only this, not the caller's transaction
def model_create(
    *, owner: Account, name: str, hardware: Hardware, visibility: str = Model.Visibility.PRIVATE, **details: str
) -> Model:
    return Model.objects.create(owner=owner, name=name, hardware=hardware, visibility=visibility, **details)


def model_update(*, model: Model, **changes: object) -> Model:
    """Change a model's details (description, links, cache settings): one UPDATE of those columns."""
    for field, value in changes.items():
        setattr(model, field, value)
    model.save(update_fields=list(changes))
    return model


class ModelInUse(Exception):
    pass


@transaction.atomic
def model_delete(*, model: Model) -> None:
    """Delete a model, as Replicate allows: only a private one with no versions."""
    model = Model.objects.select_for_update().get(pk=model.pk)  # a push racing this one
    if model.visibility != Model.Visibility.PRIVATE:
        raise ModelInUse("Only private models can be deleted; make it private first.")
    if model.versions.exists():
        raise ModelInUse("A model with versions cannot be deleted.")
    model.delete()


def _schema_for(project_dir: Path, predictor_ref: str, python: str, train_ref: str | None = None) -> dict:
    """Generate the OpenAPI schema in a child process of the version's own interpreter: user
    code never runs in ours, and it imports what the version's environment has. With a
    cog.yaml `train:` (`train_ref`), the schema describes training too."""
    trainer = [train_ref] if train_ref else []
    completed = subprocess.run(
        [python, *module_command("inference.runtime.schema"), str(project_dir), predictor_ref, *trainer],
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
        if train_ref and reason.startswith("train: "):
            raise PackageError(f"Could not read the trainer {train_ref}: {reason.removeprefix('train: ')}", "train")
        raise PackageError(f"Could not read the predictor {predictor_ref}: {reason}", "predict")
    return document


def _quiet(line: str) -> None:
    pass


@dataclass
class BuiltVersion:
    """A package checked, its environment resolved and built, its schema read: all a version
    needs before anything is stored."""

    digest: str
    archive: bytes
    config: CogConfig
    environment: dict
    schema: dict
    build_log: str
    weights: list[dict]

    def config_json(self) -> dict:
        """`Version.config`: cog.yaml as the workers need it, with the resolved weights."""
        return {**self.config.as_json(), "weights": self.weights} if self.weights else self.config.as_json()


def version_build(
    project_dir: Path,
    *,
    log: Log = _quiet,
    existing: Model | None = None,
    owner: Account | None = None,
) -> BuiltVersion | Version:
    """Everything a push checks, with nothing stored: a PackageError names what cannot be met.

    Resolving and building print to `log` as they go; the build happens here, on the pushing
    machine, so a requirement that fails to build is refused now rather than on a worker. Where
    `existing` already has a version of this very content, that version is the answer: pushing
    the same directory again (as `make run` does with the zoo at each start) costs no build and
    no schema generation. `owner` (else `existing`'s) is the account whose uploads cog.yaml
    `weights:` may name; the weights are fetched here and their digests recorded.
    """
    config = read_cog_config(project_dir)
    archive = build_package(project_dir)
    lines: list[str] = []

    def logged(line: str) -> None:
        lines.append(line)
        log(line)

    owner = owner if owner is not None else existing.owner if existing is not None else None
    resolved = weights.resolve(config.weights, project_dir=project_dir, owner=owner, log=logged)
    digest = weights.version_digest(package_digest(archive), resolved)
    if existing is not None and (version := existing.versions.filter(sha256=digest).first()) is not None:
        return version
    environment = resolution.resolve(config.build, log=logged)
    python, _ = _python_built(environment, config, log=logged)
    schema = _schema_for(project_dir, config.predictor_ref, python, config.train_ref)
    return BuiltVersion(digest, archive, config, environment, schema, "".join(lines), resolved)


def _python_built(environment: dict, config: CogConfig, *, log: Log) -> tuple[str, Path | None]:
    try:
        return environments.python_for(environment, log=log)
    except environments.EnvironmentBuildError as exc:
        field = exc.field or config.build.packages_field
        raise PackageError(f"cog.yaml {field}: {exc}", field) from exc


@transaction.atomic
def version_save(*, model: Model, built: BuiltVersion | Version) -> Version:
    """Store a built version as `model`'s latest (the same content gives the same version)."""
    version = built if isinstance(built, Version) else model.versions.filter(sha256=built.digest).first()
    if version is None:
        assert isinstance(built, BuiltVersion)  # narrowed for mypy: a Version is never None
        version = Version(
            model=model,
            sha256=built.digest,
            predictor_ref=built.config.predictor_ref,
            openapi_schema=built.schema,
            cog_version=cog.__version__,
            config=built.config_json(),
            environment=built.environment,
            build_log=built.build_log,
        )
        version.package.save(f"{built.digest}.tar.gz", ContentFile(built.archive), save=False)
        version.save()
    model.latest_version = version
    model.save(update_fields=["latest_version"])
    return version


def version_push(*, model: Model, project_dir: Path, log: Log = _quiet) -> Version:
    """Package a Cog directory as a new version of `model` (the same content gives the same version)."""
    return version_save(model=model, built=version_build(project_dir, log=log, existing=model))


def version_push_archive(*, model: Model, archive: Path, log: Log = _quiet) -> Version:
    """A version from an uploaded package archive: unpacked, then pushed like a directory,
    so the version id is computed here and matches a local `manage.py push` of the same files."""
    with tempfile.TemporaryDirectory(prefix="hearth-upload-") as scratch:
        project_dir = Path(scratch) / "package"
        try:
            extract_package(archive, project_dir)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise PackageError(f"The upload is not a readable .tar.gz package: {exc}") from exc
        return version_push(model=model, project_dir=project_dir, log=log)
