"""The worker's part in deployments: keep their minimum instances booted, and report its runners.

Every KEEP_WARM_INTERVAL_SECONDS a thread of the worker reads the current releases on its SKUs
(WORKER_HARDWARE) that ask for instances kept booted, claims one instance slot of each that it
can (`deployments.instances.instance_claim`: across workers, one holder per slot), boots and
pins the runner of each claimed release's version, and lets go of the rest: a runner no longer
kept idles out like any other. Then it reports what it runs, for the dashboard and the
autoscaling figures. A worker keeps at most one instance of a version (the pool holds one runner
per version), so `min_instances` N takes N workers of that SKU.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from inference.deployments import instances
from inference.deployments.selectors import releases_kept_warm
from inference.models import DeploymentRelease, Version
from inference.runtime.pool import RunnerPool, RunnerSpec

logger = logging.getLogger(__name__)

_Kept = tuple[int, str]  # (deployment id, version id)


class InstanceKeeper:
    def __init__(self, pool: RunnerPool, spec_for: Callable[[Version], RunnerSpec]) -> None:
        self._pool = pool
        self._spec_for = spec_for
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._held: dict[_Kept, int] = {}  # the instance slot this worker holds, per kept release
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

    def tick(self) -> None:
        kept: dict[_Kept, DeploymentRelease] = {}
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
                self._held[ident] = index
        self._let_go(keep=set(kept))
        for ident, release in kept.items():
            if self._pool.pin(ident[1]):  # up already: no runner spec to make (package, environment)
                continue
            version = release.version
            version.model = release.model
            try:
                if self._pool.keep_warm(self._spec_for(version)):
                    logger.info("booted an instance of %s (version %s)", release.deployment, ident[1][:12])
            except Exception:
                # Its setup fails: leave the slot to another worker; its predictions say why.
                logger.exception("could not boot an instance of %s", release.deployment)
                self._let_go(keep=set(kept) - {ident})
        instances.report(worker=self.worker, hardware=settings.WORKER_HARDWARE, runners=self._pool.states())

    def _let_go(self, *, keep: set[_Kept]) -> None:
        kept_versions = {version for _, version in keep}
        for ident in [ident for ident in self._held if ident not in keep]:
            deployment_id, version = ident
            instances.instance_release(
                deployment_id=deployment_id, version=version, index=self._held.pop(ident), worker=self.worker
            )
            if version not in kept_versions:
                self._pool.release_warm(version)
