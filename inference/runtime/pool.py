"""The worker's warm runners: one child process per model version, kept loaded between
predictions so only the first prediction of a version pays for `setup()`.

Runners idle longer than their model's timeout are stopped (unless the model is kept warm),
and past `max_runners` the least recently used idle runner makes room. Belongs to one worker
process; nothing here is shared with other processes.
"""

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from inference.runtime.runner import Runner

_REAP_INTERVAL = 1.0


@dataclass(frozen=True)
class RunnerSpec:
    key: str  # the version id
    project_dir: Path
    predictor_ref: str
    env: Mapping[str, str]
    idle_timeout: float | None = 60.0  # None: keep warm until evicted


@dataclass
class _Slot:
    runner: Runner
    spec: RunnerSpec
    in_use: bool = False
    idle_since: float = 0.0


class RunnerPool:
    def __init__(self, *, max_runners: int = 4, start: Callable[..., Runner] = Runner.start) -> None:
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._max_runners = max_runners
        self._start = start
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    @contextlib.contextmanager
    def lease(self, spec: RunnerSpec) -> Iterator[tuple[Runner, bool]]:
        """A live runner for `spec`, and whether it had to be booted (a cold start).

        Raises RunnerSetupError when the boot fails; the next lease tries again.
        """
        slot, cold = self._acquire(spec)
        try:
            yield slot.runner, cold
        finally:
            with self._lock:
                slot.in_use = False
                slot.idle_since = time.monotonic()

    def _acquire(self, spec: RunnerSpec) -> tuple[_Slot, bool]:
        with self._lock:
            slot = self._slots.get(spec.key)
            if slot is not None and slot.runner.is_alive():
                self._slots.move_to_end(spec.key)
                slot.in_use = True
                return slot, False
            if slot is not None:
                del self._slots[spec.key]
            to_stop = self._make_room()
        for runner in to_stop:
            runner.stop()
        runner = self._start(project_dir=spec.project_dir, predictor_ref=spec.predictor_ref, env=dict(spec.env))
        slot = _Slot(runner=runner, spec=spec, in_use=True)
        with self._lock:
            self._slots[spec.key] = slot
        self._ensure_reaper()
        return slot, True

    def _make_room(self) -> list[Runner]:
        """Least recently used idle runners to stop so a new one fits (called under the lock)."""
        evicted = []
        for key in list(self._slots):
            if len(self._slots) < self._max_runners:
                break
            if not self._slots[key].in_use:
                evicted.append(self._slots.pop(key).runner)
        return evicted

    def reap_idle(self) -> list[str]:
        """Stop runners idle past their timeout; returns their keys."""
        now = time.monotonic()
        with self._lock:
            expired = [
                key for key, slot in self._slots.items()
                if not slot.in_use and slot.spec.idle_timeout is not None
                and now - slot.idle_since >= slot.spec.idle_timeout
            ]
            stopped = [self._slots.pop(key).runner for key in expired]
        for runner in stopped:
            runner.stop()
        return expired

    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_forever, name="runner-reaper", daemon=True)
                self._reaper.start()

    def _reap_forever(self) -> None:
        while True:
            time.sleep(_REAP_INTERVAL)
            self.reap_idle()

    def close(self) -> None:
        with self._lock:
            runners = [slot.runner for slot in self._slots.values()]
            self._slots.clear()
        for runner in runners:
            runner.stop()
