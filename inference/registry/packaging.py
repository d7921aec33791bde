"""Model packages: a Cog directory as a reproducible .tar.gz, so identical content always
hashes to the same version id."""

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement

_SKIPPED_NAMES = {".git", "__pycache__", ".cog", ".venv", ".DS_Store"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")

# Variables a model may not set through cog.yaml, as in Cog (pkg/config/env.go).
_DENIED_ENV = {
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PYTHONUNBUFFERED",
    "LIBRARY_PATH",
    "HF_ENDPOINT",
    "HF_HUB_ENABLE_HF_TRANSFER",
}
_DENIED_ENV_PREFIXES = ("R8_", "REPLICATE_", "CUDA_", "NVIDIA_", "NV_", "PGET_", "KUBERNETES_")


class PackageError(ValueError):
    pass


@dataclass
class CogConfig:
    predictor_ref: str
    concurrency: int = 1
    environment: dict[str, str] = field(default_factory=dict)
    python_packages: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "environment": self.environment,
            "python_packages": self.python_packages,
        }


def read_cog_config(project_dir: Path) -> CogConfig:
    path = project_dir / "cog.yaml"
    if not path.is_file():
        raise PackageError(f"{project_dir} has no cog.yaml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PackageError(f"cog.yaml is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PackageError("cog.yaml must be a mapping")
    ref = raw.get("run") or raw.get("predict")
    if not isinstance(ref, str) or ":" not in ref:
        raise PackageError('cog.yaml needs `predict: "predict.py:Predictor"` (or `run:`)')
    build = raw.get("build") or {}
    return CogConfig(
        predictor_ref=ref,
        concurrency=_concurrency(raw),
        environment=_environment(raw.get("environment") or []),
        python_packages=[str(p) for p in build.get("python_packages") or []] + _requirements_file(project_dir, build),
    )


def _requirements_file(project_dir: Path, build: dict) -> list[str]:
    name = build.get("python_requirements")
    if not name:
        return []
    path = project_dir / name
    if not path.is_file():
        raise PackageError(f"cog.yaml python_requirements names {name}, which is not in the package")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def unmet_requirements(requirements: list[str]) -> list[str]:
    """The requirements the runners' Python environment does not satisfy.

    Runners share the worker's interpreter (no per-model environments yet), so a model
    needing a package it lacks is refused at push rather than failing at boot."""
    unmet = []
    for text in requirements:
        try:
            requirement = Requirement(text)
            installed = metadata.version(requirement.name)
        except (InvalidRequirement, metadata.PackageNotFoundError):
            unmet.append(text)
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{text} (installed: {installed})")
    return unmet


def _concurrency(raw: dict) -> int:
    value = (raw.get("concurrency") or {}).get("max", 1)
    if not isinstance(value, int) or value < 1:
        raise PackageError("cog.yaml concurrency.max must be a positive integer")
    return value


def _environment(entries: list) -> dict[str, str]:
    environment = {}
    for entry in entries:
        name, separator, value = str(entry).partition("=")
        if not separator or not name:
            raise PackageError(f"cog.yaml environment entry {entry!r} is not NAME=value")
        if name in _DENIED_ENV or name.startswith(_DENIED_ENV_PREFIXES):
            raise PackageError(f"cog.yaml environment may not set {name}")
        environment[name] = value
    return environment


def _package_files(project_dir: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(project_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_NAMES)
        for name in sorted(names):
            if name in _SKIPPED_NAMES or name.endswith(_SKIPPED_SUFFIXES):
                continue
            files.append(Path(root) / name)
    return files


def build_package(project_dir: Path) -> bytes:
    """A gzip'd tar of the directory with fixed metadata, so equal content gives equal bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in _package_files(project_dir):
            info = tarfile.TarInfo(path.relative_to(project_dir).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def package_digest(archive: bytes) -> str:
    return hashlib.sha256(archive).hexdigest()


def extract_package(archive: Path, destination: Path) -> Path:
    """Unpack once into `destination`; concurrent callers race safely through a rename."""
    if destination.is_dir():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".unpack-"))
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        staging.rename(destination)
    except OSError:
        if not destination.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination
