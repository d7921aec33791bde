"""Deployment instances across worker machines, through Redis (no scheduler of our own).

Each worker reports the runners it has (`report`): the dashboard counts a deployment's
instances from these reports, and the scaling figures read them. A worker keeps a deployment's
minimum instance booted only while it holds one of its `min_instances` instance claims
(`instance_claim`): a key per instance slot, taken with SET NX and renewed every keep-warm
interval, so the workers of one SKU together keep exactly `min_instances` booted, and a slot
whose worker died expires and is taken by another worker. The same slots, up to `max_instances`,
cap how many workers run a deployment at once (inference/worker/instances.py, `serve`).

Every entry expires after a few keep-warm intervals: a worker that is gone drops out by itself.
"""

import json
import time
from typing import Any

from django.conf import settings

from hosting.redis_clients import sync_client

_WORKER_PREFIX = "hearth:worker:"
_INSTANCE_PREFIX = "hearth:instance:"


def _ttl() -> int:
    """Seconds an entry outlives the worker that stopped renewing it: three missed intervals."""
    return max(2, round(3 * settings.KEEP_WARM_INTERVAL_SECONDS))


def _slot_key(deployment_id: int, version: str, index: int) -> str:
    return f"{_INSTANCE_PREFIX}{deployment_id}:{version}:{index}"


def instance_claim(*, deployment_id: int, version: str, slots: int, worker: str, held: int | None) -> int | None:
    """The instance slot (0..slots-1) this worker holds for the deployment's version after this
    call, or None when every slot is held by other workers. `held` is the slot it held before."""
    client = sync_client()
    if held is not None and held < slots:
        key = _slot_key(deployment_id, version, held)
        if client.get(key) == worker and client.expire(key, _ttl()):
            return held
    for index in range(slots):
        if client.set(_slot_key(deployment_id, version, index), worker, nx=True, ex=_ttl()):
            return index
    return None


def instance_release(*, deployment_id: int, version: str, index: int, worker: str) -> None:
    key = _slot_key(deployment_id, version, index)
    client = sync_client()
    if client.get(key) == worker:
        client.delete(key)


def instance_holders(*, deployment_id: int, version: str, slots: int, other_than: str) -> list[str]:
    """The workers, other than `other_than`, holding one of the deployment version's `slots`."""
    held = sync_client().mget([_slot_key(deployment_id, version, index) for index in range(slots)])
    return [worker for worker in held if isinstance(worker, str) and worker != other_than]


def report(*, worker: str, hardware: list[str], runners: dict[str, str]) -> None:
    """This worker's SKUs and its runners by version (`booting`, `busy` or `warm`)."""
    state = {"worker": worker, "hardware": hardware, "runners": runners, "at": time.time()}
    sync_client().set(f"{_WORKER_PREFIX}{worker}", json.dumps(state), ex=_ttl())


def workers() -> list[dict[str, Any]]:
    """The latest report of every live worker."""
    client = sync_client()
    keys = list(client.scan_iter(match=f"{_WORKER_PREFIX}*", count=1000))
    if not keys:
        return []
    return [json.loads(raw) for raw in client.mget(keys) if raw is not None]


def instance_counts(*, version: str, hardware: str, reports: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """How many runners of `version` the workers of `hardware` have now, by state."""
    counts = {"booting": 0, "busy": 0, "warm": 0}
    for state in reports if reports is not None else workers():
        if hardware in state["hardware"] and version in state["runners"]:
            counts[state["runners"][version]] += 1
    return counts


def worker_queue(worker: str) -> str:
    """The queue that only this worker consumes (predictions passed on to it)."""
    return f"hearth.worker.{worker}"


def warm_worker(*, version: str, hardware: str, other_than: str, among: list[str] | None = None) -> str | None:
    """A live worker of `hardware`, not `other_than` (and one of `among` if given), whose
    runner of `version` is up and idle."""
    for state in workers():
        if (
            state["worker"] != other_than
            and (among is None or state["worker"] in among)
            and hardware in state["hardware"]
            and state["runners"].get(version) == "warm"
        ):
            return state["worker"]
    return None
