"""Models that declare themselves to the OpenAI-compatible endpoints, and a stand-in worker.

No worker runs in-process: `worker` answers the waits and streams that a real worker's events
would (tests/e2e/test_openai_client.py runs the real ones)."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from hosting.redis_clients import sync_client
from inference import events
from inference.models import Model, OpenAIApi, Version

_TEXT = {"type": "string"}
CHAT_SCHEMA = {
    "openapi": "3.0.2",
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "title": "Input",
                "required": ["prompt"],
                "properties": {
                    "prompt": {**_TEXT, "x-order": 0},
                    "system_prompt": {**_TEXT, "default": "", "x-order": 1},
                    "max_tokens": {"type": "integer", "default": 256, "minimum": 1, "maximum": 4096, "x-order": 2},
                    "temperature": {"type": "number", "default": 0.7, "minimum": 0, "maximum": 5, "x-order": 3},
                    "top_p": {"type": "number", "default": 0.95, "minimum": 0.01, "maximum": 1, "x-order": 4},
                    "seed": {"type": "integer", "x-order": 5},
                    "stop_sequences": {**_TEXT, "default": "", "x-order": 6},
                    "messages": {**_TEXT, "default": "", "x-order": 7},
                },
            },
            "Output": {
                "type": "array",
                "items": _TEXT,
                "title": "Output",
                "x-cog-array-type": "iterator",
                "x-cog-array-display": "concatenate",
            },
        }
    },
}
EMBEDDINGS_SCHEMA = {
    "openapi": "3.0.2",
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "title": "Input",
                "required": ["texts"],
                "properties": {"texts": {"type": "array", "items": _TEXT, "x-order": 0}},
            },
            "Output": {"type": "array", "items": {}, "title": "Output"},
        }
    },
}


def make_model(owner, cpu, name: str, schema: dict, api: str, *, visibility="private", sha="b") -> Model:
    model = Model.objects.create(owner=owner, name=name, hardware=cpu, visibility=visibility, openai_api=api)
    version = Version.objects.create(
        model=model,
        sha256=sha * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=schema,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )
    model.latest_version = version
    model.save()
    return model


@pytest.fixture(autouse=True)
def _no_rate_counts_left_over():
    """Token ids restart with each test database; counts of an earlier run must not leak in."""
    redis = sync_client()
    for key in redis.scan_iter("ratelimit:*"):
        redis.delete(key)


@pytest.fixture
def chat_model(alice, cpu) -> Model:
    return make_model(alice.account, cpu, "chat", CHAT_SCHEMA, OpenAIApi.CHAT)


@pytest.fixture
def embeddings_model(alice, cpu) -> Model:
    return make_model(alice.account, cpu, "vectors", EMBEDDINGS_SCHEMA, OpenAIApi.EMBEDDINGS, sha="c")


@dataclass
class FakeWorker:
    """What the prediction's event stream says: `pieces` of output, then `done` with `state`."""

    pieces: list[Any] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=lambda: {"status": "succeeded", "metrics": {}})
    waited_for: list[str] = field(default_factory=list)

    def final_state(self) -> dict[str, Any]:
        return {"output": self.pieces or None, "error": None, **self.state}

    async def wait_for_done(self, prediction_id: str, timeout: float) -> dict[str, Any]:
        self.waited_for.append(prediction_id)
        return self.final_state()

    async def follow_batches(self, prediction_id: str, **kwargs):
        self.waited_for.append(prediction_id)
        yield [(f"1-{n}", events.encode("output", piece)) for n, piece in enumerate(self.pieces)]
        yield []  # an idle moment: a keepalive
        yield [("2-0", events.encode("done", self.final_state()))]


@pytest.fixture
def worker(monkeypatch) -> FakeWorker:
    fake = FakeWorker()
    monkeypatch.setattr(events, "wait_for_done", fake.wait_for_done)
    monkeypatch.setattr(events, "follow_batches", fake.follow_batches)
    return fake


def post(api, path: str, body: dict, persona, **headers):
    return api.post(
        f"/openai/v1{path}", data=json.dumps(body), content_type="application/json", **persona.auth, **headers
    )


def sse_data(response) -> list[str]:
    """The `data:` payloads of a streamed answer, in order."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    text = async_to_sync(read)().decode()
    return [line.removeprefix("data: ") for line in text.split("\n") if line.startswith("data: ")]
