"""The worker's warm runners: one child process per model version, kept loaded between
predictions so only the first prediction of a version pays for `setup()`.

Runners idle longer than their model's timeout are stopped (unless the model is kept warm, or
the runner is a deployment's minimum instance: `keep_warm`).
The least recently used idle runners make room for a new one: before it boots, past
`max_runners` or when the memory it took last time would not fit in `memory_budget` bytes
(of resident memory); after it booted, while the runners together are over the budget. A
runner is leased to as many predictions at once as its predictor allows (its
`max_concurrency`); past that, a lease waits for one to end. Belongs to one worker process;
nothing here is shared with other processes.
"""

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from inference.runtime.runner import Runner

_REAP_INTERVAL = 1.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class NoRoomForInstance(Exception):
    """A deployment's instance to keep booted would not fit next to the ones kept already."""


@dataclass(frozen=True)
class RunnerSpec:
    key: str  # the version id
    project_dir: Path
    predictor_ref: str
    env: Mapping[str, str]
    idle_timeout: float | None = 60.0  # None: keep warm until evicted
    python: str | None = None  # the version environment's interpreter; None: the worker's
    in_use_lock: Path | None = None  # held by the runner so its environment is not removed


@dataclass
class _Slot:
    runner: Runner
    spec: RunnerSpec
    leases: int = 0
    idle_since: float = 0.0
    # An instance a deployment keeps booted (`keep_warm`): never stopped for idling or for room.
    pinned: bool = False


@dataclass
class Lease:
    """A runner lent to one prediction; `release()` it when the prediction is over."""

    runner: Runner
    cold_boot: bool  # the runner was booted for this lease
    _pool: "RunnerPool"
    _slot: _Slot

    def release(self) -> None:
        self._pool._release(self._slot)


def resident_memory(pid: int) -> int:
    """Bytes of RAM the process uses (Linux /proc; 0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class RunnerPool:
    def __init__(
        self,
        *,
        max_runners: int = 4,
        memory_budget: int | None = None,
        start: Callable[..., Runner] = Runner.start,
        memory_of: Callable[[int], int] = resident_memory,
    ) -> None:
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._max_runners = max_runners
        self._memory_budget = memory_budget
        self._start = start
        self._memory_of = memory_of
        self._sizes: dict[str, int] = {}  # memory each version's runner took when last measured
        self._lock = threading.Lock()
        self._lease_ended = threading.Condition(self._lock)
        self._booting: set[str] = set()  # versions whose runner is starting, in some thread
        self._reaper: threading.Thread | None = None

    @contextlib.contextmanager
    def lease(self, spec: RunnerSpec) -> Iterator[tuple[Runner, bool]]:
        """A live runner for `spec`, and whether it had to be booted (a cold start).

        Raises RunnerSetupError when the boot fails; the next lease tries again.
        """
        lease = self.acquire(spec)
        try:
            yield lease.runner, lease.cold_boot
        finally:
            lease.release()

    def has_runner(self, key: str) -> bool:
        """Whether a lease of version `key` would find its runner up (else it boots one)."""
        with self._lock:
            slot = self._slots.get(key)
            return slot is not None and slot.runner.is_alive()

    def acquire(self, spec: RunnerSpec) -> Lease:
        """Like `lease()`, for a prediction that ends in another thread than it began."""
        with self._lock:
            while True:
                if spec.key in self._booting:  # another thread boots it: lease that one
                    self._lease_ended.wait()
                    continue
                slot = self._slots.get(spec.key)
                if slot is None or not slot.runner.is_alive():
                    break
                if slot.leases < slot.runner.max_concurrency:
                    self._slots.move_to_end(spec.key)
                    slot.leases += 1
                    return Lease(slot.runner, False, self, slot)
                self._lease_ended.wait()  # the runner is as busy as its predictor allows
            if slot is not None:
                del self._slots[spec.key]
            to_stop = self._make_room(incoming=1, expected_size=self._sizes.get(spec.key, 0))
            # The task thread and the instance keeper both acquire: one boot per version at a time.
            self._booting.add(spec.key)
        try:
            for runner in to_stop:
                runner.stop()
            runner = self._start(
                project_dir=spec.project_dir,
                predictor_ref=spec.predictor_ref,
                env=dict(spec.env),
                python=spec.python,
                in_use_lock=spec.in_use_lock,
            )
        except BaseException:
            with self._lock:
                self._booting.discard(spec.key)
                self._lease_ended.notify_all()
            raise
        slot = _Slot(runner=runner, spec=spec, leases=1)
        with self._lock:
            self._booting.discard(spec.key)
            self._lease_ended.notify_all()
            self._slots[spec.key] = slot
            if self._memory_budget is not None:
                self._sizes[spec.key] = self._memory_of(runner.pid)
            to_stop = self._make_room(incoming=0, expected_size=0)
        for old_runner in to_stop:
            old_runner.stop()
        self._ensure_reaper()
        return Lease(runner, True, self, slot)

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            slot.leases -= 1
            if slot.leases == 0:
                slot.idle_since = time.monotonic()
            self._lease_ended.notify_all()

    def _make_room(self, *, incoming: int, expected_size: int) -> list[Runner]:
        """Least recently used idle runners to stop so that `incoming` more runners fit in
        `max_runners`, and `expected_size` more bytes in the budget (under the lock)."""
        evicted = []
        for key in list(self._slots):
            if len(self._slots) + incoming <= self._max_runners and not self._over_budget(expected_size):
                break
            if self._slots[key].leases == 0 and not self._slots[key].pinned:
                evicted.append(self._slots.pop(key).runner)
        return evicted

    def _over_budget(self, expected_size: int) -> bool:
        if self._memory_budget is None:
            return False
        used = sum(self._memory_of(slot.runner.pid) for slot in self._slots.values())
        return used + expected_size > self._memory_budget

    def reap_idle(self) -> list[str]:
        """Stop runners idle past their timeout; returns their keys."""
        now = time.monotonic()
        with self._lock:
            expired = [
                key
                for key, slot in self._slots.items()
                if slot.leases == 0
                and not slot.pinned
                and slot.spec.idle_timeout is not None
                and now - slot.idle_since >= slot.spec.idle_timeout
            ]
            stopped = [self._slots.pop(key).runner for key in expired]
        for runner in stopped:
            runner.stop()
        return expired

    def keep_warm(self, spec: RunnerSpec) -> bool:
        """Boot `spec`'s runner if it is not up, and keep it up until `release_warm`: a
        deployment's minimum instance. Returns whether it booted one (RunnerSetupError if
        that failed; NoRoomForInstance if the runners kept already leave no room for it)."""
        if self.pin(spec.key):  # up already (perhaps busy): no lease, which could wait
            return False
        with self._lock:
            self._check_room_for_kept(spec.key)
        lease = self.acquire(spec)
        with self._lock:
            lease._slot.pinned = True
        lease.release()
        return lease.cold_boot

    def _check_room_for_kept(self, key: str) -> None:
        """Raise NoRoomForInstance unless one more kept runner fits next to those kept already,
        which nothing stops: within `max_runners`, and within the memory budget at the size it
        took last time (a version not measured yet is taken to be as big as the biggest one
        measured) (under the lock)."""
        kept = [slot for slot in self._slots.values() if slot.pinned]
        if len(kept) + 1 > self._max_runners:
            raise NoRoomForInstance(f"{len(kept)} instances kept already, the most this worker runs (MAX_WARM_RUNNERS)")
        if self._memory_budget is None:
            return
        used = sum(self._memory_of(slot.runner.pid) for slot in kept)
        expected = self._sizes.get(key, max(self._sizes.values(), default=0))
        if used + expected > self._memory_budget:
            raise NoRoomForInstance(
                f"the instances kept already use {used >> 20} MiB, and this one would take about {expected >> 20} MiB "
                f"more than the {self._memory_budget >> 20} MiB budget (RUNNER_MEMORY_BUDGET)"
            )

    def pin(self, key: str) -> bool:
        """Keep version `key`'s runner up, if it is up; whether it is."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is None or not slot.runner.is_alive():
                return False
            slot.pinned = True
            return True

    def release_warm(self, key: str) -> None:
        """No longer a kept instance: it idles out like any runner, from now."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None and slot.pinned:
                slot.pinned = False
                slot.idle_since = time.monotonic()

    def states(self) -> dict[str, str]:
        """Each version's runner here: `booting`, `busy` (leased) or `warm` (idle)."""
        with self._lock:
            states = {key: "busy" if slot.leases else "warm" for key, slot in self._slots.items()}
            states.update(dict.fromkeys(self._booting, "booting"))
        return states

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
