"""What each worker's machine resources look like: the resident memory of its runners and its
GPUs, reported to Redis every KEEP_WARM_INTERVAL_SECONDS by a thread of the worker
(`ResourceReporter`, started on `worker_ready`), read by the web's collector (`reports`).

A worker's runners are its own child processes started as `inference.runtime.child`, found by
their command line (the project directory it names is `…/versions/<version id>`), so this needs
nothing from the pool but what the operating system shows. A runner's memory counts its
descendants too (a model may start processes of its own). Like the workers' runner reports
(`deployments.instances`), an entry expires after three intervals: a gone worker drops out.
"""

import json
import logging
import threading
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings

from hosting.redis_clients import sync_client
from inference.observability import gpus

logger = logging.getLogger(__name__)

_PREFIX = "hearth:resources:"
_RUNNER_MODULE = "inference.runtime.child"


def _ttl() -> int:
    return max(2, round(3 * settings.KEEP_WARM_INTERVAL_SECONDS))


def _tree_memory(process: psutil.Process) -> int:
    total = 0
    for member in (process, *process.children(recursive=True)):
        try:
            total += member.memory_info().rss
        except psutil.Error:  # ended while we looked
            pass
    return total


def runner_memory(parent: psutil.Process | None = None) -> dict[str, int]:
    """Resident bytes of each runner of this process (or `parent`), by version id."""
    memory: dict[str, int] = {}
    for child in (parent or psutil.Process()).children():
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if "--fd" not in command or not any(_RUNNER_MODULE in part for part in command):
            continue  # not a runner (an environment build, say)
        version = Path(command[-2]).name  # child_command: … --fd N PROJECT_DIR PREDICTOR_REF
        memory[version] = memory.get(version, 0) + _tree_memory(child)
    return memory


def sample() -> dict[str, Any]:
    return {
        "runners": runner_memory(),
        "gpus": [vars(reading) for reading in gpus.readings()],
    }


def report(worker: str) -> None:
    sync_client().set(f"{_PREFIX}{worker}", json.dumps({"worker": worker, **sample()}), ex=_ttl())


def reports() -> list[dict[str, Any]]:
    """The latest resource report of every live worker."""
    client = sync_client()
    keys = list(client.scan_iter(match=f"{_PREFIX}*", count=1000))
    if not keys:
        return []
    return [json.loads(raw) for raw in client.mget(keys) if raw is not None]


class ResourceReporter:
    """The worker's thread that reports its resources until the process ends."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, worker: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(worker,), name="resource-reporter", daemon=True)
            self._thread.start()

    def _run(self, worker: str) -> None:
        never = threading.Event()
        while True:
            try:
                report(worker)
            except Exception:  # Redis away for a moment: the next interval tries again
                logger.exception("reporting this worker's resources failed; trying again")
            never.wait(settings.KEEP_WARM_INTERVAL_SECONDS)


reporter = ResourceReporter()
