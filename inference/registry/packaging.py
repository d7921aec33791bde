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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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


@dataclass(frozen=True)
class WeightSpec:
    """One entry of cog.yaml's `weights:` as read at push, before anything is fetched (the
    fetching and the digests are `inference.registry.weights`'s)."""

    name: str
    source: str  # as written in cog.yaml
    kind: str  # "package", "url" or "file" (an upload to POST /v1/files)
    location: str  # the package path, the URL, or the file's id
    target: str  # relative to the project root (Cog's /src), POSIX
    sha256: str | None = None  # declared in cog.yaml (Hearth's own key); else recorded at push


@dataclass
class CogConfig:
    predictor_ref: str
    concurrency: int = 1
    environment: dict[str, str] = field(default_factory=dict)
    build: BuildSection = field(default_factory=BuildSection)
    weights: tuple[WeightSpec, ...] = ()
    # cog.yaml `train:` ("train.py:train"): the version can be trained (inference.trainings).
    train_ref: str | None = None

    @property
    def python_packages(self) -> list[str]:
        return list(self.build.python_packages)

    def as_json(self) -> dict:
        config = {
            "concurrency": self.concurrency,
            "environment": self.environment,
            "python_packages": self.python_packages,
        }
        if self.train_ref is not None:
            config["train"] = self.train_ref
        return config


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
    train_ref = raw.get("train")
    if train_ref is not None and (not isinstance(train_ref, str) or ":" not in train_ref):
        raise PackageError('cog.yaml train must name the trainer as "train.py:train" (a function or a class)', "train")
    return CogConfig(
        predictor_ref=ref,
        train_ref=train_ref,
        concurrency=_concurrency(raw),
        environment=_environment(raw.get("environment") or []),
        build=_build_section(project_dir, raw.get("build") or {}),
        weights=_weights_section(project_dir, raw.get("weights")),
    )


# --- weights: -----------------------------------------------------------------------------------
# Cog's managed weights: a list of `{name, source, target}`, `source` a URI or `{uri: ...}`.
# Hearth takes three kinds of source (what a self-hosted platform can reach): a path in the
# package, an http(s) URL, and a file uploaded with POST /v1/files (its `urls.get` URL, or
# `hearth://files/<id>`). `sha256` is Hearth's own key: the digest the bytes must have.

_WEIGHT_KEYS = {"name", "source", "target", "sha256"}
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")
# An upload's `urls.get` (`…/v1/files/<id>`), on whatever host, as file inputs take it.
_FILE_URL_PATH = re.compile(r"/v1/files/(?P<id>[a-z2-7]{26})/?$")
_HEARTH_FILE = re.compile(r"hearth://files/(?P<id>[a-z2-7]{26})/?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SOURCES_TAKEN = "a path in the package, an http(s) URL, or an uploaded file (its urls.get URL or hearth://files/<id>)"


def _weights_section(project_dir: Path, section: object) -> tuple[WeightSpec, ...]:
    if section is None or section == []:
        return ()
    if not isinstance(section, list):
        raise PackageError("cog.yaml weights must be a list of {name, source, target} entries", "weights")
    packaged = {path.relative_to(project_dir).as_posix() for path in package_files(project_dir)}
    specs: list[WeightSpec] = []
    for index, entry in enumerate(section):
        spec = _weight_spec(entry, index, packaged)
        if any(spec.name == other.name for other in specs):
            raise PackageError(f"cog.yaml weights: two entries are named {spec.name!r}", "weights")
        for other in specs:
            if _overlaps(spec.target, other.target):
                raise PackageError(
                    f"cog.yaml weights entry {spec.name!r}: its target /src/{spec.target} overlaps the target "
                    f"/src/{other.target} of {other.name!r}",
                    "weights",
                )
        specs.append(spec)
    return tuple(specs)


def _weight_spec(entry: object, index: int, packaged: set[str]) -> WeightSpec:
    if not isinstance(entry, dict):
        raise PackageError(
            f"cog.yaml weights entry {index + 1} must be a mapping with name, source and target", "weights"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PackageError(f"cog.yaml weights entry {index + 1} needs a name", "weights")
    where = f"cog.yaml weights entry {name!r}"
    unknown = sorted(str(key) for key in entry if key not in _WEIGHT_KEYS)
    if unknown:
        raise PackageError(f"{where} has keys Hearth does not know: {', '.join(unknown)}", "weights")
    source = _weight_source(entry.get("source"), where)
    kind, location = _weight_location(source, where, packaged)
    target = _project_path(entry.get("target"), f"{where}: target")
    # A package path that is its own target stays where it is; any other target must be free.
    if (kind != "package" or target != location) and any(_overlaps(target, path) for path in packaged):
        raise PackageError(
            f"{where}: target /src/{target} is already in the package; choose a path nothing else uses", "weights"
        )
    declared = entry.get("sha256")
    if declared is not None:
        if not isinstance(declared, str):  # all digits, YAML read a number: quote it
            raise PackageError(f"{where}: sha256 must be a quoted string of 64 hexadecimal digits", "weights")
        declared = declared.strip().lower().removeprefix("sha256:")
        if not _SHA256.fullmatch(declared):
            raise PackageError(f"{where}: sha256 must be 64 hexadecimal digits", "weights")
        if kind == "package" and location not in packaged:
            raise PackageError(
                f"{where}: sha256 applies to one file; {source} is a directory (its files are part of the version)",
                "weights",
            )
    return WeightSpec(name=name, source=source, kind=kind, location=location, target=target, sha256=declared)


def _weight_source(value: object, where: str) -> str:
    """The source URI: a string, or Cog's `{uri: ...}` mapping."""
    if isinstance(value, dict):
        extra = sorted(str(key) for key in value if key != "uri")
        if extra:
            raise PackageError(
                f"{where}: source {', '.join(extra)} is not supported; name one file or directory in `uri`", "weights"
            )
        value = value.get("uri")
    if not isinstance(value, str) or not value.strip():
        raise PackageError(f"{where} needs a source: {_SOURCES_TAKEN}", "weights")
    return value.strip()


def _weight_location(source: str, where: str, packaged: set[str]) -> tuple[str, str]:
    """The kind of the source and where its bytes are: a package path, a URL or a file id."""
    scheme = _SCHEME.match(source)
    if scheme is None or source.startswith("/"):
        path = _project_path(source, f"{where}: source")
        if not _in_package(path, packaged):
            raise PackageError(f"{where}: source {source} is not in the package", "weights")
        return "package", path
    name = scheme["scheme"].lower()
    if name == "hearth":
        if (match := _HEARTH_FILE.fullmatch(source)) is None:
            raise PackageError(f"{where}: source {source} is not of the form hearth://files/<file id>", "weights")
        return "file", match["id"]
    if name in ("http", "https"):
        if (match := _FILE_URL_PATH.search(source.split("?", 1)[0].split("#", 1)[0])) is not None:
            return "file", match["id"]
        return "url", source
    hint = (
        " (a Hugging Face file is at https://huggingface.co/<repo>/resolve/<revision>/<path>)" if name == "hf" else ""
    )
    raise PackageError(f"{where}: source scheme {name}:// is not supported; use {_SOURCES_TAKEN}{hint}", "weights")


def _project_path(value: object, what: str) -> str:
    """A path in the project, relative and POSIX: `weights/x` or `/src/weights/x` (Cog runs the
    project at /src); refused if it is absolute elsewhere or climbs out with `..`."""
    if not isinstance(value, str) or not value.strip():
        raise PackageError(f"{what} is missing: a path under /src or relative to the project", "weights")
    path = PurePosixPath(value.strip())
    if path.is_absolute():
        if path.parts[:2] != ("/", "src"):
            raise PackageError(
                f"{what} {value} is outside the project: use a path under /src (the project root)", "weights"
            )
        path = PurePosixPath(*path.parts[2:]) if len(path.parts) > 2 else PurePosixPath(".")
    if ".." in path.parts:
        raise PackageError(f"{what} {value} climbs out of the project with ..", "weights")
    if str(path) in ("", "."):
        raise PackageError(f"{what} {value} is the project root itself, not a path in it", "weights")
    return path.as_posix()


def _in_package(path: str, packaged: set[str]) -> bool:
    """Whether `path` is a packaged file or a directory holding one."""
    return path in packaged or any(item.startswith(path + "/") for item in packaged)


def _overlaps(first: str, second: str) -> bool:
    """Whether one path is the other or lies inside it."""
    return first == second or first.startswith(second + "/") or second.startswith(first + "/")


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


def package_files(project_dir: Path) -> list[Path]:
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
        for path in package_files(project_dir):
            info = tarfile.TarInfo(path.relative_to(project_dir).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def package_digest(archive: bytes) -> str:
    return hashlib.sha256(archive).hexdigest()


def extract_package(archive: Path, destination: Path, *, prepare: Callable[[Path], None] | None = None) -> Path:
    """Unpack once into `destination`; concurrent callers race safely through a rename.
    `prepare` runs on the unpacked files before the rename (a version's weights are put in
    place there), so whoever finds `destination` finds it complete."""
    if destination.is_dir():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".unpack-"))
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        if prepare is not None:
            prepare(staging)
        staging.rename(destination)
    except OSError:
        if not destination.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination
