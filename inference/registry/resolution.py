"""Resolving a version's environment at push: cog.yaml `build:` to an exact, recorded set.

Pushing is where a user learns that a requirement cannot be met, so everything a worker would
trip on is checked here: the Python version, system packages, `build.run`, and the resolution
itself. The result, recorded on the version, is what every worker builds (`environments.py`):

    {"python": "3.11", "runs_in": "own", "key": "<sha256>",
     "packages": {"numpy": "1.26.4", "cog": "0.23.1", ...}, "lock": "numpy==1.26.4\\n..."}

`runs_in: "platform"` marks a version the platform's own environment satisfies: the same
Python, every requirement met by what is installed, no `build.run`. It runs in the worker's
interpreter, with no build and no extra cold-boot cost (the zoo models are such versions).
"""

import functools
import hashlib
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import cast

import cog
from django.conf import settings
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from inference.registry import uv_commands
from inference.registry.packaging import BuildSection, PackageError
from inference.registry.uv_commands import Log

PLATFORM_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# The runner child speaks to the model through the cog SDK, so every environment has this one.
COG_REQUIREMENT = f"cog=={cog.__version__}"
COG_MIN_PYTHON = (3, 10)  # cog 0.23's Requires-Python
RESOLVE_TIMEOUT_SECONDS = 600


def resolve(build: BuildSection, *, log: Log) -> dict:
    """The environment record for a version's `build:`, or PackageError naming the field."""
    python = _python_version(build.python_version)
    _check_system_packages(build.system_packages)
    _check_build_run(build.run)
    if python == PLATFORM_PYTHON and not build.run:
        installed = platform_versions(build.python_packages)
        if installed is not None:
            log(f"The platform's environment (Python {PLATFORM_PYTHON}) has every package this version needs.\n")
            return {"python": python, "runs_in": "platform", "key": "platform", "packages": installed, "lock": ""}
    interpreter = find_interpreter(python)
    if interpreter is None:
        raise PackageError(_no_interpreter_message(python), "build.python_version")
    lock = _compile(build, interpreter, log=log)
    packages = dict(_pins(lock))
    key_material = "\n".join([python, lock, *(f"run: {command}" for command in build.run)])
    return {
        "python": python,
        "runs_in": "own",
        "key": hashlib.sha256(key_material.encode()).hexdigest(),
        "packages": packages,
        "lock": lock,
        "run": list(build.run),
    }


def platform_versions(requirements: tuple[str, ...]) -> dict[str, str] | None:
    """The installed version of each requirement where the platform satisfies them all, else None."""
    markers = cast(dict[str, str], default_environment())
    versions: dict[str, str] = {}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(markers):
            continue
        installed = _installed(requirement, markers, set())
        if installed is None:
            return None
        versions[canonicalize_name(requirement.name)] = installed
    return versions


def _installed(requirement: Requirement, markers: dict[str, str], seen: set[tuple[str, str]]) -> str | None:
    """The installed version meeting `requirement`, extras included (`requests[socks]` needs
    PySocks as well as requests), or None."""
    if requirement.url:
        return None
    try:
        distribution = metadata.distribution(requirement.name)
    except metadata.PackageNotFoundError:
        return None
    if not requirement.specifier.contains(distribution.version, prereleases=True):
        return None
    for extra in sorted(requirement.extras):
        if (canonicalize_name(requirement.name), extra) in seen:
            continue
        seen.add((canonicalize_name(requirement.name), extra))
        for text in distribution.requires or []:
            needed = Requirement(text)
            # What the extra adds: requirements whose marker holds only with it.
            if needed.marker is None or not needed.marker.evaluate({**markers, "extra": extra}):
                continue
            if needed.marker.evaluate({**markers, "extra": ""}):
                continue
            if _installed(needed, markers, seen) is None:
                return None
    return distribution.version


def _python_version(asked: str | None) -> str:
    if asked is None:
        return PLATFORM_PYTHON
    major, minor = (int(part) for part in asked.split(".")[:2])
    if (major, minor) < COG_MIN_PYTHON:
        raise PackageError(
            f"cog.yaml build.python_version {asked}: the cog {cog.__version__} SDK the runner needs takes Python "
            f"{'.'.join(map(str, COG_MIN_PYTHON))} or newer",
            "build.python_version",
        )
    return f"{major}.{minor}"


def find_interpreter(python: str) -> str | None:
    """An executable of Python `python` (major.minor) on this machine, or None."""
    found = _interpreters().get(python)
    if found is not None or not settings.PYTHON_DOWNLOADS:
        return found
    try:
        run = uv_commands.run(["python", "find", "--managed-python", python], log=lambda line: None, timeout=600)
    except uv_commands.UvFailed:
        try:
            uv_commands.run(["python", "install", python], log=lambda line: None, timeout=1200)
            run = uv_commands.run(["python", "find", "--managed-python", python], log=lambda line: None, timeout=60)
        except uv_commands.UvFailed:
            return None
    return run.output.strip().splitlines()[-1] if run.output.strip() else None


@functools.cache
def _interpreters() -> dict[str, str]:
    """major.minor -> executable, for the platform's interpreter and PYTHON_INTERPRETERS."""
    found = {PLATFORM_PYTHON: sys.executable}
    for executable in settings.PYTHON_INTERPRETERS:
        try:
            completed = subprocess.run(
                [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue  # a missing or broken interpreter is simply not offered
        found.setdefault(completed.stdout.strip(), executable)
    return found


def _no_interpreter_message(python: str) -> str:
    offered = ", ".join(sorted(_interpreters(), key=lambda v: tuple(map(int, v.split(".")))))
    return (
        f"cog.yaml build.python_version {python}: no Python {python} on this platform (it has {offered}). "
        "Operators add interpreters with PYTHON_INTERPRETERS or let uv download them with PYTHON_DOWNLOADS."
    )


def _check_system_packages(names: tuple[str, ...]) -> None:
    missing = [name for name in names if not system_package_installed(name)]
    if missing:
        raise PackageError(
            f"cog.yaml build.system_packages: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
            "installed on this platform's workers. Hearth does not install system packages: ask the operator to "
            "install them on the workers (apt-get install ...) and list them in SYSTEM_PACKAGES.",
            "build.system_packages",
        )


def system_package_installed(name: str) -> bool:
    if name in settings.SYSTEM_PACKAGES:
        return True
    if shutil.which("dpkg-query"):
        completed = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
        # "install ok installed"; a purged package dpkg still lists reads "... not-installed".
        if completed.returncode == 0 and completed.stdout.split()[-1:] == ["installed"]:
            return True
    return False


def _check_build_run(commands: tuple[str, ...]) -> None:
    if commands and not settings.ALLOW_BUILD_RUN:
        raise PackageError(
            "cog.yaml build.run: this platform does not run build commands (they would run on its workers). "
            "The operator can allow them with ALLOW_BUILD_RUN; otherwise remove `run:` and install what the "
            "commands install through python_packages.",
            "build.run",
        )


def _compile(build: BuildSection, interpreter: str, *, log: Log) -> str:
    """`uv pip compile` of the requirements and the cog SDK: the exact set, one `name==version` a line."""
    log(f"Resolving {len(build.python_packages)} package(s) and {COG_REQUIREMENT} for Python {interpreter}\n")
    with tempfile.TemporaryDirectory(prefix="hearth-resolve-") as scratch:
        requirements_in = Path(scratch) / "requirements.in"
        requirements_in.write_text("\n".join([*build.python_packages, COG_REQUIREMENT]) + "\n")
        lock = Path(scratch) / "requirements.txt"
        try:
            uv_commands.run(
                [
                    "pip",
                    "compile",
                    str(requirements_in),
                    "--output-file",
                    str(lock),
                    "--python",
                    interpreter,
                    "--no-header",
                    "--no-annotate",
                    "--no-strip-extras",
                    *uv_commands.source_options(),
                ],
                log=log,
                timeout=RESOLVE_TIMEOUT_SECONDS,
            )
        except uv_commands.UvFailed as exc:
            raise PackageError(
                f"cog.yaml {build.packages_field} cannot be resolved:\n{exc}", build.packages_field
            ) from exc
        return lock.read_text()


def _pins(lock: str) -> list[tuple[str, str]]:
    pins: list[tuple[str, str]] = []
    for line in lock.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins.append((canonicalize_name(name.split("[", 1)[0].strip()), version.split(";", 1)[0].strip()))
    return pins
