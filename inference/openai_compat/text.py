"""POST /chat/completions and POST /completions: a prediction of a chat model, answered whole
once it has finished, or with `stream: true` as OpenAI's server-sent events, one per piece of
text the model yields, read from the prediction's event stream as it is written and ended by
`data: [DONE]`."""

import json
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from hosting import database
from inference import events
from inference.models import OpenAIApi, Prediction
from inference.openai_compat import inputs, replies, runs
from inference.openai_compat.endpoints import OpenAIEndpoint
from inference.openai_compat.errors import OpenAIError, error_json


class ChatCompletions(OpenAIEndpoint):
    async def post(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        chat = inputs.chat_request(await runs.body_of(self, request))
        prediction = await runs.start(
            self, name=chat["model"], api=OpenAIApi.CHAT, make_input=lambda version: inputs.chat_input(chat, version)
        )
        return await _answer(prediction, chat, replies.CHAT)


class Completions(OpenAIEndpoint):
    async def post(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        completion = inputs.completion_request(await runs.body_of(self, request))
        prediction = await runs.start(
            self,
            name=completion["model"],
            api=OpenAIApi.CHAT,
            make_input=lambda version: inputs.completion_input(completion, version),
        )
        return await _answer(prediction, completion, replies.COMPLETION)


async def _answer(prediction: Prediction, body: Any, kind: str) -> HttpResponse | StreamingHttpResponse:
    name = body["model"]
    if body.get("stream"):
        await database.give_back_connection()  # the stream needs none, and may last minutes
        return StreamingHttpResponse(
            _events(prediction, name, kind, with_usage=inputs.wants_usage_chunk(body)),
            content_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **replies.request_id_header(prediction)},
        )
    state = await runs.finished(prediction)
    document = replies.completion_json(prediction, name, kind, state)
    return JsonResponse(document, headers=replies.request_id_header(prediction))


def _data(document: dict[str, Any]) -> str:
    return f"data: {json.dumps(document, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _events(prediction: Prediction, name: str, kind: str, *, with_usage: bool) -> AsyncIterator[str]:
    """The prediction's text as OpenAI chunks. A prediction that fails ends the stream with an
    `error` event (the clients raise it); one whose caller goes away is canceled."""
    sent, ended = "", False
    try:
        yield _data(replies.chunk_json(prediction, name, kind, text="", role=True))
        async for batch in events.follow_batches(prediction.id, idle_seconds=settings.STREAM_KEEPALIVE_SECONDS):
            if not batch:
                yield ": keepalive\n\n"
                continue
            pieces = []
            for _entry_id, fields in batch:
                if fields["type"] == "output":
                    text = replies.output_text([json.loads(fields["data"])])
                    sent += text
                    pieces.append(_data(replies.chunk_json(prediction, name, kind, text=text)))
                elif fields["type"] == "done":
                    ended = True
                    pieces.extend(_ending(prediction, name, kind, json.loads(fields["data"]), sent, with_usage))
            if pieces:
                yield "".join(pieces)  # one write for a burst, as /v1's stream does
    except runs.EVENT_STORE_DOWN:
        failure = runs.interrupted(prediction)
        yield _data(error_json(failure.detail, **failure.extra["openai"]))
    except BaseException:
        # Cancelled or closed: the caller went away, and nobody is left to read the answer.
        if not ended:
            await runs.cancel_unfinished(prediction)
        raise


def _ending(
    prediction: Prediction, name: str, kind: str, state: dict[str, Any], sent: str, with_usage: bool
) -> list[str]:
    try:
        runs.raise_unless_succeeded(prediction, state)
    except OpenAIError as failure:
        return [_data(error_json(failure.detail, **failure.extra["openai"]))]
    metrics = state.get("metrics") or {}
    frames = []
    # What the stream did not carry: the output of a model that does not yield pieces, or
    # pieces a trimmed stream lost.
    text = replies.output_text(state.get("output"))
    if text.startswith(sent) and len(text) > len(sent):
        frames.append(_data(replies.chunk_json(prediction, name, kind, text=text[len(sent) :])))
    finish = replies.finish_reason(prediction, metrics)
    frames.append(_data(replies.chunk_json(prediction, name, kind, text=None, finish=finish)))
    if with_usage:
        frames.append(_data(replies.usage_chunk_json(prediction, name, kind, replies.usage_json(metrics))))
    frames.append("data: [DONE]\n\n")
    return frames
