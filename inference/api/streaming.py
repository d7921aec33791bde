"""Server-sent events for `urls.stream` (replicate-api.md §8, ARCHITECTURE §6).

A plain async view: it reads the prediction's Redis Stream from the start (or from
`Last-Event-ID`), so a late subscriber first gets everything already produced, then blocks
for more. Wire rules the Python client enforces: only `output|logs|error|done` events, an
`id:` on every event, multi-line text as several `data:` lines, comments as keepalives.
"""

import asyncio
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from accounts.authentication import aidentity_for_header
from hosting import database
from hosting.api import Endpoint
from hosting.openapi import problems
from hosting.problems import NotAuthenticated, NotFound
from inference import events, selectors
from inference.models import Prediction
from inference.representations import stream_signature

_EVENT_ID = re.compile(r"^\d+-\d+$")
logger = logging.getLogger(__name__)


def sse_frame(event: str, event_id: str, text: str) -> str:
    data = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {event}\nid: {event_id}\n{data}\n"


def frames_for_entry(entry_id: str, fields: dict[str, str]) -> tuple[str, bool]:
    """The SSE text for one stream entry, and whether it ends the stream."""
    kind, data = fields["type"], fields["data"]
    if kind == "logs":
        return sse_frame("logs", entry_id, data), False
    if kind == "output":
        value = json.loads(data)
        return sse_frame("output", entry_id, value if isinstance(value, str) else json.dumps(value)), False
    if kind == "done":
        return _done_frames(entry_id, json.loads(data)), True
    return "", False  # `start` and `running` have no SSE counterpart the clients accept


def _done_frames(entry_id: str, state: dict[str, Any]) -> str:
    if state["status"] == Prediction.Status.FAILED:
        error = json.dumps({"detail": state.get("error") or "Prediction failed"})
        return sse_frame("error", entry_id, error) + sse_frame("done", entry_id, '{"reason":"error"}')
    # `aborted` too: the stream's documented reasons are `canceled` and `error` (replicate-api.md §8.1).
    if state["status"] in (Prediction.Status.CANCELED, Prediction.Status.ABORTED):
        return sse_frame("done", entry_id, '{"reason":"canceled"}')
    return sse_frame("done", entry_id, "{}")


def replay_from_database(prediction: Prediction) -> str:
    """For a finished prediction whose event stream has expired."""
    outputs = prediction.output if isinstance(prediction.output, list) else []
    frames = [
        sse_frame("output", f"0-{index + 1}", item if isinstance(item, str) else json.dumps(item))
        for index, item in enumerate(outputs)
    ]
    state = {"status": prediction.status, "error": prediction.error}
    return "".join(frames) + _done_frames(f"0-{len(outputs) + 1}", state)


# How long a stream whose Redis connection broke keeps trying to resume before it ends with an
# `error` event (the client may reconnect with Last-Event-ID).
RESUME_SECONDS = 10.0
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


async def event_stream(prediction: Prediction, after: str) -> AsyncIterator[str]:
    if prediction.is_terminal and not await events.stream_exists(prediction.id):
        yield replay_from_database(prediction)
        return
    yield ": stream open\n\n"  # sends the headers now, so the client knows it is connected
    keepalive = settings.STREAM_KEEPALIVE_SECONDS
    loop = asyncio.get_running_loop()
    broken_since: float | None = None
    while True:
        try:
            async for batch in events.follow_batches(prediction.id, after=after, idle_seconds=keepalive):
                broken_since = None
                if not batch:
                    yield ": keepalive\n\n"
                    continue
                # One write for all a batch holds: a reader behind a burst catches up in one send.
                frames = "".join(frames_for_entry(*entry)[0] for entry in batch)
                after = batch[-1][0]
                if frames:
                    yield frames
            return
        except _REDIS_DOWN as exc:
            # Resume from the last entry sent once Redis answers again; never hang silently.
            broken_since = broken_since or loop.time()
            if loop.time() - broken_since >= RESUME_SECONDS:
                logger.warning(
                    "stream of %s ended: Redis unreachable for %.0f s (%r)", prediction.id, RESUME_SECONDS, exc
                )
                detail = json.dumps(
                    {"detail": "The event stream was interrupted; reconnect with Last-Event-ID to resume."}
                )
                yield sse_frame("error", after, detail)
                return
            yield ": reconnecting\n\n"
            await asyncio.sleep(0.5)


async def _visible_prediction(request: HttpRequest, prediction_id: str) -> Prediction:
    """The owner's token, or the URL's signature, may read a stream; anyone else gets a 404."""
    header = request.headers.get("Authorization")
    if header:
        identity = await aidentity_for_header(header)
        return await selectors.aprediction_get(account=identity.account, prediction_id=prediction_id)
    signature = request.GET.get("signature")
    if not signature:
        raise NotAuthenticated()
    # The signature is the capability: whoever holds the URL may read, as the clients expect.
    prediction = await Prediction.objects.filter(id=prediction_id).afirst()
    if prediction is None or not _signature_matches(prediction_id, signature):
        raise NotFound("The requested prediction does not exist.")
    return prediction


def _signature_matches(prediction_id: str, signature: str) -> bool:
    return hmac.compare_digest(stream_signature(prediction_id), signature)


# One event of the stream, as OpenAPI 3.1 describes a text/event-stream (`schema` is each event).
SSE_EVENT = {
    "type": "object",
    "required": ["event", "id", "data"],
    "properties": {
        "event": {"enum": ["output", "logs", "error", "done"]},
        "id": {"type": "string", "pattern": "^[0-9]+-[0-9]+$", "description": "Send as Last-Event-ID to resume"},
        "data": {
            "type": "string",
            "description": "output: the item, as JSON unless it is a string; logs: the text; error: "
            '`{"detail": ...}`; done: `{}`, or `{"reason": "canceled"|"error"}`',
        },
    },
}


class PredictionStream(Endpoint):
    """GET urls.stream: the prediction's events as text/event-stream."""

    authentication_classes = []  # the owner's token or the URL's signature: `_visible_prediction`

    @extend_schema(
        summary="Server-sent events of a prediction (the `urls.stream` capability URL)",
        tags=["predictions"],
        parameters=[
            OpenApiParameter("signature", str, description="From `urls.stream`; or send the owner's token instead"),
            OpenApiParameter("Last-Event-ID", str, OpenApiParameter.HEADER, description="Resume after this event"),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=SSE_EVENT, description="`output`, `logs`, `error` and `done` events, then the stream ends"
            ),
            **problems(401, 404, e401="Neither a token nor a signature", e404="Not found, or a bad signature"),
        },
    )
    async def get(self, request: HttpRequest, prediction_id: str) -> HttpResponseBase:
        prediction = await _visible_prediction(request, prediction_id)
        await database.give_back_connection()  # the stream needs none, and may last minutes
        last_event_id = request.headers.get("Last-Event-ID", "")
        after = last_event_id if _EVENT_ID.match(last_event_id) else "0-0"
        return StreamingHttpResponse(
            event_stream(prediction, after),
            content_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
