"""The worker's part in deployments: keep their minimum instances booted, cap their instances at
`max_instances`, and report its runners.

Every KEEP_WARM_INTERVAL_SECONDS a thread of the worker reads the current releases on its SKUs
(WORKER_HARDWARE) that ask for instances kept booted, claims one instance slot of each that it
can (`deployments.instances.instance_claim`: across workers, one holder per slot), boots and
pins the runner of each claimed release's version, and lets go of the rest: a runner no longer
kept idles out like any other. Then it reports what it runs, for the dashboard and the
autoscaling figures. A worker keeps at most one instance of a version (the pool holds one runner
per version), so `min_instances` N takes N workers of that SKU.

The same slots cap a deployment at `max_instances` (`serve`): a worker runs a deployment's
prediction only while it holds one of slots 0..max-1 (the first `min_instances` are the kept
ones), so at most `max_instances` workers run its version for it at once. It holds a slot taken
for a prediction as long as its runner of that version is up, and lets go once the runner has
idled out: the instance above the minimum is stopped, and its slot is free for another worker.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from inference.deployments import instances
from inference.deployments.selectors import releases_kept_warm
from inference.models import DeploymentRelease, Version
from inference.runtime.pool import NoRoomForInstance, RunnerPool, RunnerSpec

logger = logging.getLogger(__name__)

_Kept = tuple[int, str]  # (deployment id, version id)


@dataclass
class _Serving:
    """A slot taken to run a deployment's predictions (not one of its kept instances)."""

    slots: int  # the release's max_instances when it was taken
    renewed: float  # time.monotonic() of the last claim or renewal


class InstanceKeeper:
    def __init__(self, pool: RunnerPool, spec_for: Callable[[Version], RunnerSpec]) -> None:
        self._pool = pool
        self._spec_for = spec_for
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        # The instance slot this worker holds, per deployment version: kept ones and serving ones.
        self._held: dict[_Kept, int] = {}
        self._serving: dict[_Kept, _Serving] = {}
        self._lock = threading.Lock()  # the task threads' `serve` and the keeper's `tick`
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="instance-keeper", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        never = threading.Event()
        while True:
            try:
                self.tick()
            except Exception:  # Redis or PostgreSQL away for a moment: the next tick tries again
                logger.exception("keeping deployments' instances failed; trying again")
            finally:
                connection.close()
            never.wait(settings.KEEP_WARM_INTERVAL_SECONDS)

    def serve(self, *, deployment_id: int, version: str, max_instances: int) -> bool:
        """Whether this worker may run a prediction of the deployment now: it holds one of its
        `max_instances` slots, taking a free one if need be. False: that many other workers run
        it already (Redis errors are the caller's)."""
        ident = (deployment_id, version)
        with self._lock:
            serving = self._serving.get(ident)
            now = time.monotonic()
            held = self._held.get(ident)
            # A kept slot (the tick renews it), or one taken or renewed moments ago: no round
            # trip on the hot path.
            recent = serving is None or now - serving.renewed < settings.KEEP_WARM_INTERVAL_SECONDS
            if held is not None and held < max_instances and recent:
                return True
            index = instances.instance_claim(
                deployment_id=deployment_id, version=version, slots=max_instances, worker=self.worker, held=held
            )
            if index is None:
                return False
            self._swap_slot(ident, index)
            self._serving[ident] = _Serving(slots=max_instances, renewed=now)
            return True

    def tick(self) -> None:
        kept: dict[_Kept, DeploymentRelease] = {}
        with self._lock:
            for release in releases_kept_warm(hardware=settings.WORKER_HARDWARE):
                ident = (release.deployment_id, release.version.sha256)
                index = instances.instance_claim(
                    deployment_id=ident[0],
                    version=ident[1],
                    slots=release.min_instances,
                    worker=self.worker,
                    held=self._held.get(ident),
                )
                if index is not None:
                    kept[ident] = release
                    self._swap_slot(ident, index)
                    self._serving.pop(ident, None)  # a kept slot serves as well
            self._renew_serving(kept=set(kept))
            self._let_go(keep=set(kept) | set(self._serving))
        for ident, release in kept.items():
            if self._pool.pin(ident[1]):  # up already: no runner spec to make (package, environment)
                continue
            version = release.version
            version.model = release.model
            try:
                if self._pool.keep_warm(self._spec_for(version)):
                    logger.info("booted an instance of %s (version %s)", release.deployment, ident[1][:12])
            except NoRoomForInstance as exc:
                # Another worker of the SKU, with room, takes the slot.
                logger.warning("no room for an instance of %s here: %s", release.deployment, exc)
                with self._lock:
                    self._let_go(keep=(set(kept) | set(self._serving)) - {ident})
            except Exception:
                # Its setup fails: leave the slot to another worker; its predictions say why.
                logger.exception("could not boot an instance of %s", release.deployment)
                with self._lock:
                    self._let_go(keep=(set(kept) | set(self._serving)) - {ident})
        instances.report(worker=self.worker, hardware=settings.WORKER_HARDWARE, runners=self._pool.states())

    def _renew_serving(self, *, kept: set[_Kept]) -> None:
        """Renew the serving slots whose runner is still up (or was taken moments ago, its boot
        perhaps not begun); forget the others, so `_let_go` frees them (under the lock)."""
        runners = self._pool.states()
        now = time.monotonic()
        for ident, serving in list(self._serving.items()):
            recent = now - serving.renewed < settings.KEEP_WARM_INTERVAL_SECONDS
            if ident in kept or (ident[1] not in runners and not recent):
                del self._serving[ident]
                continue
            index = instances.instance_claim(
                deployment_id=ident[0],
                version=ident[1],
                slots=serving.slots,
                worker=self.worker,
                held=self._held[ident],
            )
            if index is None:
                del self._serving[ident]
            else:
                self._swap_slot(ident, index)
                serving.renewed = now

    def _swap_slot(self, ident: _Kept, index: int) -> None:
        """Record `index` as the slot held for `ident`, freeing another one held before (the
        release's instance counts changed under it) (under the lock)."""
        before = self._held.get(ident)
        if before is not None and before != index:
            instances.instance_release(deployment_id=ident[0], version=ident[1], index=before, worker=self.worker)
        self._held[ident] = index

    def _let_go(self, *, keep: set[_Kept]) -> None:
        """Free the slots not in `keep`, unpinning runners no kept slot needs (under the lock)."""
        kept_versions = {ident[1] for ident in keep if ident not in self._serving}
        for ident in [ident for ident in self._held if ident not in keep]:
            deployment_id, version = ident
            instances.instance_release(
                deployment_id=deployment_id, version=version, index=self._held.pop(ident), worker=self.worker
            )
            self._serving.pop(ident, None)
            if version not in kept_versions:
                self._pool.release_warm(version)
