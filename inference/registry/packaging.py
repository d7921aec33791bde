"""Model packages: a Cog directory as a reproducible .tar.gz, so identical content always
hashes to the same version id."""

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cog
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
    """A package Hearth cannot take; `field` names the cog.yaml key at fault (`build.python_version`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BuildSection:
    """What cog.yaml's `build:` asks of the version's environment (resolved at push by
    `inference.registry.resolution`)."""

    python_version: str | None = None
    python_packages: tuple[str, ...] = ()  # `python_packages`, then the `python_requirements` file's lines
    system_packages: tuple[str, ...] = ()
    run: tuple[str, ...] = ()
    # The cog.yaml key the packages came from, for naming it in a refusal.
    packages_field: str = "build.python_packages"


@dataclass
class CogConfig:
    predictor_ref: str
    concurrency: int = 1
    environment: dict[str, str] = field(default_factory=dict)
    build: BuildSection = field(default_factory=BuildSection)

    @property
    def python_packages(self) -> list[str]:
        return list(self.build.python_packages)

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
    if raw.get("weights"):
        raise PackageError(
            "cog.yaml weights: managed weights are not supported yet; load them in setup() from files in the "
            "package or from a URL",
            "weights",
        )
    ref = raw.get("run") or raw.get("predict")
    if not isinstance(ref, str) or ":" not in ref:
        raise PackageError('cog.yaml needs `predict: "predict.py:Predictor"` (or `run:`)')
    return CogConfig(
        predictor_ref=ref,
        concurrency=_concurrency(raw),
        environment=_environment(raw.get("environment") or []),
        build=_build_section(project_dir, raw.get("build") or {}),
    )


# The `build:` keys Cog 0.23 knows. `gpu` routes nothing by itself (a model's hardware does) but
# asks for a pinned torch, as Cog does; `cuda` and `cudnn` are informational here: the workers'
# driver and the CUDA wheels a version installs decide.
_BUILD_KEYS = {
    "gpu",
    "cuda",
    "cudnn",
    "python_version",
    "python_packages",
    "python_requirements",
    "system_packages",
    "run",
    "pre_install",
    "sdk_version",
}


def _build_section(project_dir: Path, build: object) -> BuildSection:
    if not isinstance(build, dict):
        raise PackageError("cog.yaml build must be a mapping", "build")
    unknown = sorted(str(key) for key in build if key not in _BUILD_KEYS)
    if unknown:
        raise PackageError(f"cog.yaml build has keys Cog does not know: {', '.join(unknown)}", f"build.{unknown[0]}")
    _check_sdk_version(build.get("sdk_version"))
    packages = _string_list(build, "python_packages")
    requirements = [_requirement(text, "build.python_packages") for text in packages]
    from_file = _requirements_file(project_dir, build)
    requirements += [Requirement(text) for text in from_file]
    packages_field = "build.python_requirements" if from_file and not packages else "build.python_packages"
    if build.get("gpu") and any(r.name.lower() == "torch" and not r.specifier and not r.url for r in requirements):
        # Cog's own refusal: which CUDA build of torch to install depends on its version.
        raise PackageError(
            f"cog.yaml {packages_field}: torch version must be specified when using CUDA", packages_field
        )
    # `pre_install` is Cog's deprecated name for commands run before the packages; they run here
    # with `run`, after them, and are allowed or refused with it.
    commands = [*(build.get("pre_install") or []), *(build.get("run") or [])]
    return BuildSection(
        python_version=_python_version(build.get("python_version")),
        python_packages=tuple(packages + from_file),
        system_packages=tuple(_string_list(build, "system_packages")),
        run=tuple(_run_command(entry) for entry in commands),
        packages_field=packages_field,
    )


def _python_version(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):  # `python_version: 3.10` is the number 3.1 in YAML
        raise PackageError(
            f'cog.yaml build.python_version is the number {value}: quote it, as in python_version: "3.12"',
            "build.python_version",
        )
    text = str(value)
    if not _PYTHON_VERSION.fullmatch(text):
        raise PackageError(
            f'cog.yaml build.python_version {text!r} is not a Python version such as "3.12"', "build.python_version"
        )
    return text


def _check_sdk_version(value: object) -> None:
    """The runner speaks to the model through the platform's cog SDK, so a version may ask for
    that one only."""
    if value is not None and str(value) != cog.__version__:
        raise PackageError(
            f"cog.yaml build.sdk_version {value}: this platform runs the cog {cog.__version__} SDK; "
            f"remove sdk_version or set it to {cog.__version__}",
            "build.sdk_version",
        )


# "3.12" or "3.12.4", as Cog takes it.
_PYTHON_VERSION = re.compile(r"3\.\d{1,2}(\.\d{1,2})?")


def _string_list(build: dict, key: str) -> list[str]:
    value = build.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str | int | float) for item in value):
        raise PackageError(f"cog.yaml build.{key} must be a list of strings", f"build.{key}")
    return [str(item) for item in value]


def _run_command(entry: object) -> str:
    """A `build.run` entry: a string, or Cog's `{command: ..., mounts: [...]}` form."""
    command = entry.get("command") if isinstance(entry, dict) else entry
    if not isinstance(command, str) or not command.strip():
        raise PackageError(f"cog.yaml build.run entry {entry!r} is not a command", "build.run")
    return command


def _requirement(text: str, field_name: str, where: str = "") -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise PackageError(
            f"{where or 'cog.yaml ' + field_name} {text!r} is not a valid requirement: {exc}", field_name
        ) from exc


def _requirements_file(project_dir: Path, build: dict) -> list[str]:
    """The requirements of the `python_requirements` file, checked line by line.

    pip options (`--extra-index-url`, `-f`, `-e`, `-r`) are refused rather than dropped: where
    packages come from is the operator's setting (PACKAGE_INDEX_URL), the same on every worker."""
    name = build.get("python_requirements")
    if not name:
        return []
    path = project_dir / str(name)
    if not path.is_file():
        raise PackageError(
            f"cog.yaml python_requirements names {name}, which is not in the package", "build.python_requirements"
        )
    requirements = []
    for number, raw_line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        line = raw_line.split(" #", 1)[0].strip() if not raw_line.lstrip().startswith("#") else ""
        if not line:
            continue
        where = f"cog.yaml build.python_requirements: {name} line {number}:"
        if line.startswith("-"):
            raise PackageError(
                f"{where} pip options such as {line.split()[0]} are not supported; the operator sets the package "
                "index (PACKAGE_INDEX_URL, PACKAGE_FIND_LINKS)",
                "build.python_requirements",
            )
        _requirement(line, "build.python_requirements", where)
        requirements.append(line)
    return requirements


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
