"""The per-prediction event log: one Redis Stream `prediction:{id}` (ARCHITECTURE §6).

The worker appends `start`, `output`, `logs`, `error` and `done` entries as the runner
reports them (`start` says `{"booting": true}` when no runner of the version is up, and then
a `running` entry marks the end of that cold boot); every reader (Prefer: wait, SSE, websockets, webhooks) reads the same stream,
so none of them polls the database. `done` carries the prediction's final state so a waiter
can answer without another query.
"""

import asyncio
import json
import logging
import queue
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, cast

import redis

from hosting.redis_clients import async_client, sync_client

logger = logging.getLogger(__name__)

EventType = Literal["start", "running", "output", "logs", "error", "done"]

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


def _append(redis_or_pipeline, key: str, fields: dict[str, str]) -> None:
    """Every write to a stream goes through here, so every one trims it."""
    redis_or_pipeline.xadd(key, fields, maxlen=STREAM_MAX_ENTRIES, approximate=True)


def publish(prediction_id: str, event_type: EventType, data: Any, *, via: redis.client.Pipeline | None = None) -> None:
    """Append one event now, or `via` a pipeline that the caller sends with other commands."""
    _append(via if via is not None else sync_client(), stream_key(prediction_id), encode(event_type, data))


def publish_done(prediction_id: str, final_state: Mapping[str, Any]) -> None:
    pipe = sync_client().pipeline(transaction=False)
    key = stream_key(prediction_id)
    _append(pipe, key, encode("done", final_state))
    pipe.expire(key, STREAM_RETENTION_SECONDS)
    pipe.execute()


async def wait_for_done(prediction_id: str, timeout: float) -> dict[str, Any] | None:
    """The final state from the `done` event, or None if it has not come within `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    async for entry in follow(prediction_id, idle_seconds=timeout, until=deadline):
        if entry is not None and entry[1]["type"] == "done":
            return json.loads(entry[1]["data"])
    return None


Entry = tuple[str, dict[str, str]]


async def follow_batches(
    prediction_id: str, *, after: str = "0-0", idle_seconds: float = 15.0, until: float | None = None
) -> AsyncIterator[list[Entry]]:
    """Every entry after `after`, as `(entry_id, fields)`, in the batches Redis hands them
    over (several when the reader is behind a burst), ending with `done`; waits for new ones.

    Yields an empty batch whenever `idle_seconds` pass without an entry, so a caller can
    keep its connection alive. Stops early at loop time `until`, if given.
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
        # redis-py types the reply of either protocol; our clients speak RESP2 and decode, so
        # it is [[stream, [(entry_id, fields), ...]], ...], empty when the block ran out.
        streams = cast(list[tuple[str, list[Entry]]], response)
        entries = [entry for _stream, batch in streams or () for entry in batch]
        if entries:
            done_at = next((i for i, (_id, fields) in enumerate(entries) if fields["type"] == "done"), None)
            if done_at is not None:
                yield entries[: done_at + 1]
                return
            after = entries[-1][0]
            last_yield = loop.time()
            yield entries
        elif loop.time() - last_yield >= idle_seconds:
            last_yield = loop.time()
            yield []


async def follow(
    prediction_id: str, *, after: str = "0-0", idle_seconds: float = 15.0, until: float | None = None
) -> AsyncIterator[Entry | None]:
    """`follow_batches` one entry at a time, with None for an idle batch."""
    async for batch in follow_batches(prediction_id, after=after, idle_seconds=idle_seconds, until=until):
        if not batch:
            yield None
        for entry in batch:
            yield entry


class StreamWriter:
    """Appends one prediction's events to its stream, in order, from a thread of its own.

    The worker thread reading the runner hands each event over and goes back to reading at
    once; events that come faster than a Redis round trip (a burst of tokens) go out
    together in one pipeline. `close()` returns once everything handed over is in the
    stream, so `done`, written after it, stays last. Call `publish` from one thread.
    """

    _CLOSE = object()

    def __init__(self, prediction_id: str) -> None:
        self._prediction_id = prediction_id
        self._pending: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def publish(self, event_type: EventType, data: Any) -> None:
        self._pending.put(encode(event_type, data))
        if self._thread is None:  # started by the first event: most predictions stream none
            self._thread = threading.Thread(target=self._write, name=f"events-{self._prediction_id}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._pending.put(self._CLOSE)
            self._thread.join()

    def _write(self) -> None:
        key = stream_key(self._prediction_id)
        while True:
            batch = [self._pending.get()]
            while not self._pending.empty():
                batch.append(self._pending.get())
            entries = [fields for fields in batch if fields is not self._CLOSE]
            if entries:
                pipe = sync_client().pipeline(transaction=False)
                for fields in entries:
                    _append(pipe, key, fields)
                try:
                    pipe.execute()
                except redis.RedisError:  # readers miss these; Postgres still gets the output
                    logger.exception("could not append %d events to %s", len(entries), key)
            if batch[-1] is self._CLOSE:
                return


async def stream_exists(prediction_id: str) -> bool:
    return bool(await async_client().exists(stream_key(prediction_id)))
