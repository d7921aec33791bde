"""The worker's warm runners: one child process per model version, kept loaded between
predictions so only the first prediction of a version pays for `setup()`.

Belongs to one worker process; nothing here is shared with other processes.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from inference.runtime.runner import Runner


@dataclass(frozen=True)
class RunnerSpec:
    key: str  # the version id
    project_dir: Path
    predictor_ref: str
    env: Mapping[str, str]


class RunnerPool:
    def __init__(self, *, max_runners: int = 4, start: Callable[..., Runner] = Runner.start) -> None:
        self._runners: OrderedDict[str, Runner] = OrderedDict()
        self._max_runners = max_runners
        self._start = start
        self._lock = threading.Lock()

    def acquire(self, spec: RunnerSpec) -> tuple[Runner, bool]:
        """A live runner for `spec` and whether it had to be booted (a cold start).

        Raises RunnerSetupError when the boot fails; the next call tries again.
        """
        with self._lock:
            runner = self._runners.get(spec.key)
            if runner is not None and runner.is_alive():
                self._runners.move_to_end(spec.key)
                return runner, False
            if runner is not None:
                del self._runners[spec.key]
            self._evict_down_to(self._max_runners - 1)
        runner = self._start(project_dir=spec.project_dir, predictor_ref=spec.predictor_ref, env=dict(spec.env))
        with self._lock:
            self._runners[spec.key] = runner
        return runner, True

    def _evict_down_to(self, size: int) -> None:
        while len(self._runners) > max(size, 0):
            _key, runner = self._runners.popitem(last=False)
            runner.stop()

    def close(self) -> None:
        with self._lock:
            self._evict_down_to(0)
