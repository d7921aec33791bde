"""Pushing models: creating a model, and packaging a Cog directory or an uploaded archive as a version.

`hearth push`, `manage.py push` and `POST /v1/models/{owner}/{name}/versions` all end here.
"""

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

import cog
from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import Account
from billing.models import Hardware
from inference.models import Model, Version
from inference.registry.packaging import (
    PackageError,
    build_package,
    extract_package,
    package_digest,
    read_cog_config,
    unmet_requirements,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
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
