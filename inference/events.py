"""The per-prediction event log: one Redis Stream `prediction:{id}` (ARCHITECTURE §6).

The worker appends `start`, `output`, `logs`, `error` and `done` entries as the runner
reports them; every reader (Prefer: wait, SSE, websockets, webhooks) reads the same stream,
so none of them polls the database. `done` carries the prediction's final state so a waiter
can answer without another query.
"""

import asyncio
import json
from typing import Any, Literal

from hosting.redis_clients import async_client, sync_client

EventType = Literal["start", "output", "logs", "error", "done"]

# How long a finished prediction's stream stays readable for late subscribers.
STREAM_RETENTION_SECONDS = 60 * 60
# redis-py cuts reads at its socket timeout, so long waits block in slices shorter than that.
_BLOCK_SLICE_SECONDS = 4.0


def stream_key(prediction_id: str) -> str:
    return f"prediction:{prediction_id}"


def encode(event_type: EventType, data: Any) -> dict[str, str]:
    text = data if event_type == "logs" else json.dumps(data, separators=(",", ":"))
    return {"type": event_type, "data": text}


def publish(prediction_id: str, event_type: EventType, data: Any) -> None:
    sync_client().xadd(stream_key(prediction_id), encode(event_type, data))


def publish_done(prediction_id: str, final_state: dict[str, Any]) -> None:
    pipe = sync_client().pipeline(transaction=False)
    key = stream_key(prediction_id)
    pipe.xadd(key, encode("done", final_state))
    pipe.expire(key, STREAM_RETENTION_SECONDS)
    pipe.execute()


async def wait_for_done(prediction_id: str, timeout: float) -> dict[str, Any] | None:
    """The final state from the `done` event, or None if it has not come within `timeout` s."""
    client = async_client()
    key = stream_key(prediction_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_id = "0-0"
    while (remaining := deadline - loop.time()) > 0:
        block_ms = max(1, int(min(remaining, _BLOCK_SLICE_SECONDS) * 1000))
        response = await client.xread({key: last_id}, block=block_ms, count=1000)
        for _stream, entries in response or ():
            for entry_id, fields in entries:
                last_id = entry_id
                if fields["type"] == "done":
                    return json.loads(fields["data"])
    return None
