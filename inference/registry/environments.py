"""Building versions' Python environments on this machine, and removing unused ones.

Environments are content-addressed: `ENVIRONMENTS_DIR/<key>`, where the key is the hash of the
recorded lock (see `resolution.py`), so two versions with the same set share one. A build runs
in a directory of its own beside them and is renamed into place when complete, under a lock
per key: a runner never sees a half-built environment, whatever kills the build, and two
workers on one machine build a key once. uv installs from its shared cache (UV_CACHE_DIR) by
hard links, so a second environment with the same packages takes seconds and little disk.

A runner holds a shared flock on `<env>/.in-use` for its whole life (its child process keeps
the descriptor), which is how pruning knows an environment is in use.
"""

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from inference.registry import uv_commands
from inference.registry.resolution import find_interpreter
from inference.registry.uv_commands import Log

logger = logging.getLogger(__name__)

IN_USE = ".in-use"
LAST_USED = ".last-used"
_BUILDING_PREFIX = ".building-"
_REMOVING_PREFIX = ".removing-"


class EnvironmentBuildError(Exception):
    """A build that failed; `field` is `build.run` where one of its commands did."""

    def __init__(self, message: str, log: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.log = log
        self.field = field


def environment_dir(record: dict) -> Path | None:
    """Where the version's environment lives, or None for one that runs in the platform's."""
    if record.get("runs_in") != "own":
        return None
    return Path(settings.ENVIRONMENTS_DIR) / record["key"]


def python_for(record: dict, *, log: Log | None = None) -> tuple[str, Path | None]:
    """The interpreter a version's runner starts with, and the in-use lock file it holds
    (None in the platform's environment), building the environment first if needed."""
    directory = environment_dir(record)
    if directory is None:
        return sys.executable, None
    if not (directory / "bin" / "python").exists():
        build(record, log=log or (lambda line: None))
    (directory / LAST_USED).touch()
    return str(directory / "bin" / "python"), directory / IN_USE


def runner_variables(record: dict) -> dict[str, str]:
    """What a runner in the version's environment sees as activated, as in Cog's image: `python`
    and `pip` in its subprocesses are the environment's, not the worker's."""
    directory = environment_dir(record)
    if directory is None:
        return {}
    return {"VIRTUAL_ENV": str(directory), "PATH": f"{directory / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def build(record: dict, *, log: Log) -> Path:
    """Build the environment of `record` unless it exists; its directory."""
    directory = environment_dir(record)
    assert directory is not None, "the platform's environment is not built"
    root = directory.parent
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root, record["key"]):
        if (directory / "bin" / "python").exists():
            return directory
        for stale in root.glob(f"{_BUILDING_PREFIX}{record['key']}-*"):  # a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        staging = root / f"{_BUILDING_PREFIX}{record['key']}-{os.getpid()}"
        lines: list[str] = []

        def logged(line: str) -> None:
            lines.append(line)
            log(line)

        started = time.monotonic()
        try:
            _build_into(staging, record, log=logged)
        except EnvironmentBuildError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise EnvironmentBuildError(f"Could not build the environment: {exc}", "".join(lines), exc.field) from exc
        except (uv_commands.UvFailed, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise EnvironmentBuildError(f"Could not build the environment: {exc}", "".join(lines)) from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        staging.rename(directory)
        log(f"Built the environment in {time.monotonic() - started:.1f} s\n")
    prune(keep=record["key"])
    return directory


def _build_into(staging: Path, record: dict, *, log: Log) -> None:
    interpreter = find_interpreter(record["python"])
    if interpreter is None:
        raise EnvironmentBuildError(f"No Python {record['python']} on this machine (PYTHON_INTERPRETERS)")
    timeout = settings.ENVIRONMENT_BUILD_TIMEOUT
    log(f"Creating a Python {record['python']} environment\n")
    uv_commands.run(["venv", "--relocatable", "--python", interpreter, str(staging)], log=log, timeout=timeout)
    lock = staging / "requirements.lock"
    lock.write_text(record["lock"])
    python = str(staging / "bin" / "python")
    log(f"Installing {len(record['packages'])} packages\n")
    # Bytecode now, as pip and Cog's images do: else the first boot of each runner compiles it
    # (+140 ms for a trivial predictor, seconds for torch-sized ones), or every boot where the
    # environment cannot be written.
    uv_commands.run(
        ["pip", "sync", "--compile-bytecode", "--python", python, str(lock), *uv_commands.source_options()],
        log=log,
        timeout=timeout,
    )
    for command in record.get("run", []):
        log(f"Running {command}\n")
        env = {**uv_commands.environment(), "VIRTUAL_ENV": str(staging)}
        env["PATH"] = f"{staging / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        try:
            uv_commands.run_command(["/bin/sh", "-c", command], log=log, timeout=timeout, cwd=str(staging), env=env)
        except uv_commands.UvFailed as exc:
            raise EnvironmentBuildError(f"`{command}` failed: {exc}", field="build.run") from exc
    (staging / "hearth-environment.json").write_text(json.dumps({k: v for k, v in record.items() if k != "lock"}))
    (staging / IN_USE).touch()
    (staging / LAST_USED).touch()


@contextlib.contextmanager
def _build_lock(root: Path, key: str) -> Iterator[None]:
    locks = root / ".locks"
    locks.mkdir(exist_ok=True)
    with open(locks / f"{key}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def disk_usage(directory: Path, seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes of disk under `directory`, each hard-linked file counted once (across calls that
    share `seen`)."""
    seen = set() if seen is None else seen
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            inode = (stat.st_dev, stat.st_ino)
            if inode not in seen:
                seen.add(inode)
                total += stat.st_blocks * 512
    return total


def prune(*, keep: str | None = None, budget: int | None = None) -> list[str]:
    """Remove environments no runner uses, least recently used first, until the rest fit the
    disk budget; the keys removed."""
    root = Path(settings.ENVIRONMENTS_DIR)
    budget = settings.ENVIRONMENTS_DISK_BUDGET if budget is None else budget
    if not root.is_dir():
        return []
    _remove_leftovers(root)
    built = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_last_used)
    removed: list[str] = []
    # Environments share files with each other and with uv's cache (hard links): what they take
    # together is what counts. The cache itself is outside the budget: it is what makes the next
    # build of the same packages take seconds (operators trim it with `uv cache clean`).
    while _used(built) > budget:
        candidate = next((p for p in built if p.name != keep and _remove_unless_in_use(p)), None)
        if candidate is None:
            break  # the rest are in use
        built.remove(candidate)
        removed.append(candidate.name)
        logger.info("removed the environment %s to stay within the disk budget", candidate.name)
    return removed


def _remove_leftovers(root: Path) -> None:
    """Half-removed environments, and builds whose process died (a build killed half-way of a
    key nobody builds again would otherwise stay forever)."""
    for path in root.glob(f"{_REMOVING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(f"{_BUILDING_PREFIX}*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _used(environments: list[Path]) -> int:
    seen: set[tuple[int, int]] = set()
    return sum(disk_usage(path, seen) for path in environments)


def _last_used(path: Path) -> float:
    try:
        return (path / LAST_USED).stat().st_mtime
    except OSError:
        return 0.0


def _remove_unless_in_use(path: Path) -> bool:
    try:
        handle = open(path / IN_USE, "a")  # noqa: SIM115 - held across the rename below
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a runner holds it
        # Renamed first, so no runner starts in a half-removed environment.
        doomed = path.parent / f"{_REMOVING_PREFIX}{path.name}-{os.getpid()}"
        path.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return True
