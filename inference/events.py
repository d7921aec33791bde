"""The per-prediction event log: one Redis Stream `prediction:{id}` (ARCHITECTURE §6).

The worker appends `start`, `output`, `logs`, `error` and `done` entries as the runner
reports them; every reader (Prefer: wait, SSE, websockets, webhooks) reads the same stream,
so none of them polls the database. `done` carries the prediction's final state so a waiter
can answer without another query.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from hosting.redis_clients import async_client, sync_client

EventType = Literal["start", "output", "logs", "error", "done"]

# How long a finished prediction's stream stays readable for late subscribers.
STREAM_RETENTION_SECONDS = 60 * 60
# Trims the stream of a prediction that writes without end (a log line in a tight loop):
# past about this many entries Redis drops the oldest (whole internal nodes at a time, so
# the trim costs nothing measurable). A reader joining later gets the newest entries and
# `done`; Postgres keeps the whole output.
STREAM_MAX_ENTRIES = 50_000
# redis-py cuts reads at its socket timeout, so long waits block in slices shorter than that.
_BLOCK_SLICE_SECONDS = 4.0


def stream_key(prediction_id: str) -> str:
    return f"prediction:{prediction_id}"


def encode(event_type: EventType, data: Any) -> dict[str, str]:
    text = data if event_type == "logs" else json.dumps(data, separators=(",", ":"))
    return {"type": event_type, "data": text}


def publish(prediction_id: str, event_type: EventType, data: Any) -> None:
    sync_client().xadd(stream_key(prediction_id), encode(event_type, data), maxlen=STREAM_MAX_ENTRIES, approximate=True)


def publish_done(prediction_id: str, final_state: dict[str, Any]) -> None:
    pipe = sync_client().pipeline(transaction=False)
    key = stream_key(prediction_id)
    pipe.xadd(key, encode("done", final_state), maxlen=STREAM_MAX_ENTRIES, approximate=True)
    pipe.expire(key, STREAM_RETENTION_SECONDS)
    pipe.execute()


async def wait_for_done(prediction_id: str, timeout: float) -> dict[str, Any] | None:
    """The final state from the `done` event, or None if it has not come within `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    async for entry in follow(prediction_id, idle_seconds=timeout, until=deadline):
        if entry is not None and entry[1]["type"] == "done":
            return json.loads(entry[1]["data"])
    return None


async def follow(
    prediction_id: str, *, after: str = "0-0", idle_seconds: float = 15.0, until: float | None = None
) -> AsyncIterator[tuple[str, dict[str, str]] | None]:
    """Every entry after `after`, as `(entry_id, fields)`, ending with `done`; waits for new ones.

    Yields None whenever `idle_seconds` pass without an entry, so a caller can keep its
    connection alive. Stops early at loop time `until`, if given.
    """
    client = async_client()
    key = stream_key(prediction_id)
    loop = asyncio.get_running_loop()
    last_yield = loop.time()
    while until is None or loop.time() < until:
        wait = idle_seconds - (loop.time() - last_yield)
        if until is not None:
            wait = min(wait, until - loop.time())
        block_ms = max(1, int(min(_BLOCK_SLICE_SECONDS, wait) * 1000))
        response = await client.xread({key: after}, block=block_ms, count=500)
        entries = [entry for _stream, batch in response or () for entry in batch]
        for entry_id, fields in entries:
            after = entry_id
            yield entry_id, fields
            if fields["type"] == "done":
                return
        if entries:
            last_yield = loop.time()
        elif loop.time() - last_yield >= idle_seconds:
            last_yield = loop.time()
            yield None


async def stream_exists(prediction_id: str) -> bool:
    return bool(await async_client().exists(stream_key(prediction_id)))
