"""POST /openai/v1/chat/completions and /completions in-process: the prediction each call makes,
and its answer in OpenAI's shapes, whole or streamed."""

import asyncio
import json

import pytest
import redis
from asgiref.sync import async_to_sync

from inference import events, services
from inference.models import Prediction
from inference.openai_compat import replies, runs, text
from tests.inference.openai_compat.conftest import post, sse_data

CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello"},
    {"role": "user", "content": [{"type": "text", "text": "what is "}, {"type": "text", "text": "Hearth?"}]},
]


def test_a_chat_completion_is_an_ordinary_prediction_of_the_model(api, alice, chat_model, worker):
    worker.pieces = ["A home ", "for models."]
    worker.state["metrics"] = {"input_token_count": 12, "output_token_count": 4, "predict_time": 0.1}

    response = post(
        api,
        "/chat/completions",
        {
            "model": "alice/chat",
            "messages": CONVERSATION,
            "max_completion_tokens": 32,
            "temperature": 0,
            "top_p": 0.5,
            "seed": 7,
            "stop": ["\n\n", "END"],
        },
        alice,
    )

    assert response.status_code == 200, response.content
    prediction = Prediction.objects.get()
    assert (prediction.account, prediction.model, prediction.source) == (alice.account, chat_model, "api")
    assert prediction.input == {
        "prompt": "what is Hearth?",
        "messages": json.dumps(
            [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "what is Hearth?"},
            ]
        ),
        "max_tokens": 32,
        "temperature": 0,
        "top_p": 0.5,
        "seed": 7,
        "stop_sequences": "\n\n,END",
    }
    assert worker.waited_for == [prediction.id]
    assert response["x-request-id"] == prediction.id
    assert response.json() == {
        "id": f"chatcmpl-{prediction.id}",
        "object": "chat.completion",
        "created": int(prediction.created_at.timestamp()),
        "model": "alice/chat",
        "system_fingerprint": f"hearth-{'b' * 12}",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A home for models.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }


def test_an_answer_as_long_as_allowed_finishes_for_length(api, alice, chat_model, worker):
    worker.pieces = ["one two"]
    worker.state["metrics"] = {"input_token_count": 3, "output_token_count": 2}

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION, "max_tokens": 2}, alice)

    assert response.json()["choices"][0]["finish_reason"] == "length"


def test_a_model_that_reports_no_token_counts_answers_without_usage(api, alice, chat_model, worker):
    worker.pieces = ["hi"]

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION}, alice)

    assert "usage" not in response.json()


def test_a_streamed_chat_is_openais_chunks_ending_in_done(api, alice, chat_model, worker):
    worker.pieces = ["A home ", "for models."]
    worker.state["metrics"] = {"input_token_count": 12, "output_token_count": 4}

    response = post(
        api,
        "/chat/completions",
        {
            "model": "alice/chat",
            "messages": CONVERSATION,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        alice,
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    data = sse_data(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    prediction = Prediction.objects.get()
    assert {chunk["id"] for chunk in chunks} == {f"chatcmpl-{prediction.id}"}
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert [chunk["choices"][0]["delta"] for chunk in chunks[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "A home "},
        {"content": "for models."},
        {},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks[:-1]] == [None, None, None, "stop"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}


def test_a_stream_carries_what_a_model_answered_at_once(api, alice, chat_model, worker):
    """A model whose output is one string sends no pieces: its output comes with `done`."""
    worker.state["output"] = "all at once"

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION, "stream": True}, alice)

    chunks = [json.loads(item) for item in sse_data(response)[:-1]]
    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks) == "all at once"
    assert all("usage" not in chunk for chunk in chunks)  # not asked for


def test_a_prediction_that_fails_ends_the_stream_with_an_error(api, alice, chat_model, worker):
    worker.pieces = ["half"]
    worker.state = {"status": "failed", "error": "CUDA out of memory", "metrics": {}}

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION, "stream": True}, alice)

    data = sse_data(response)
    assert "[DONE]" not in data
    error = json.loads(data[-1])["error"]
    prediction = Prediction.objects.get()
    assert error == {
        "message": f"Prediction {prediction.id} failed: CUDA out of memory",
        "type": "server_error",
        "param": None,
        "code": "model_error",
    }


def test_a_prediction_that_fails_is_a_500_the_client_does_not_retry(api, alice, chat_model, worker):
    worker.state = {"status": "failed", "error": "boom", "metrics": {}}

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION}, alice)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "model_error"
    assert response["x-should-retry"] == "false"  # a retry would run, and bill, it again
    assert Prediction.objects.count() == 1


def test_a_completion_sends_the_prompt_as_it_is(api, alice, chat_model, worker):
    worker.pieces = [" world"]

    response = post(api, "/completions", {"model": "alice/chat", "prompt": "hello", "max_tokens": 5}, alice)

    prediction = Prediction.objects.get()
    assert prediction.input["prompt"] == "hello" and prediction.input["max_tokens"] == 5
    assert "messages" not in prediction.input  # no conversation: the prompt alone
    body = response.json()
    assert body["id"] == f"cmpl-{prediction.id}" and body["object"] == "text_completion"
    assert body["choices"] == [{"index": 0, "text": " world", "logprobs": None, "finish_reason": "stop"}]


def test_a_streamed_completion_is_text_completion_chunks(api, alice, chat_model, worker):
    worker.pieces = [" wor", "ld"]

    response = post(api, "/completions", {"model": "alice/chat", "prompt": ["hello"], "stream": True}, alice)

    data = sse_data(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"text_completion"}
    assert "".join(chunk["choices"][0]["text"] for chunk in chunks) == " world"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_version_and_a_deployment_can_be_named(api, alice, chat_model, worker, cpu):
    from inference.deployments import services as deployment_services

    version = chat_model.latest_version
    by_version = post(
        api, "/chat/completions", {"model": f"alice/chat:{version.sha256}", "messages": CONVERSATION}, alice
    )
    assert by_version.status_code == 200, by_version.content
    deployment_services.deployment_create(
        account=alice.account, name="chat-prod", version=version, hardware=cpu, min_instances=0, max_instances=1
    )

    response = post(api, "/chat/completions", {"model": "deployments/alice/chat-prod", "messages": CONVERSATION}, alice)

    assert response.status_code == 200, response.content
    assert response.json()["model"] == "deployments/alice/chat-prod"
    first, second = Prediction.objects.order_by("created_at")
    assert first.deployment is None and second.deployment.name == "chat-prod"
    assert first.version == second.version == version


def test_an_event_store_that_breaks_under_a_wait_is_not_retried(api, alice, chat_model, monkeypatch):
    async def broken(prediction_id, timeout):
        raise redis.exceptions.ConnectionError("Redis went away")

    monkeypatch.setattr(events, "wait_for_done", broken)

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION}, alice)

    assert response.status_code == 502 and response.json()["error"]["code"] == "stream_interrupted"
    assert response["x-should-retry"] == "false"  # a retry would run another prediction
    assert Prediction.objects.get().status == "starting"  # this one goes on


def test_an_event_store_that_breaks_under_a_stream_ends_it_with_an_error(api, alice, chat_model, monkeypatch):
    async def breaking(prediction_id, **kwargs):
        yield [("1-0", events.encode("output", "half"))]
        raise redis.exceptions.ConnectionError("Redis went away")

    monkeypatch.setattr(events, "follow_batches", breaking)

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": CONVERSATION, "stream": True}, alice)

    assert json.loads(sse_data(response)[-1])["error"]["code"] == "stream_interrupted"
    assert Prediction.objects.get().status == "starting"


def test_a_caller_that_goes_away_cancels_its_prediction(alice, chat_model, monkeypatch):
    async def hung_up(prediction_id, timeout):
        raise asyncio.CancelledError

    monkeypatch.setattr(events, "wait_for_done", hung_up)
    prediction = services.prediction_create(
        account=alice.account, version=chat_model.latest_version, input={"prompt": "hi"}
    )

    with pytest.raises(asyncio.CancelledError):
        async_to_sync(runs.finished)(prediction)

    assert Prediction.objects.get().status == "canceled"


def test_a_streams_caller_that_goes_away_cancels_its_prediction(alice, chat_model, worker):
    worker.pieces = ["one", "two"]
    prediction = services.prediction_create(
        account=alice.account, version=chat_model.latest_version, input={"prompt": "hi"}
    )

    async def read_one_piece_and_leave():
        stream = text._events(prediction, "alice/chat", replies.CHAT, with_usage=False)
        await anext(stream)
        await stream.aclose()

    async_to_sync(read_one_piece_and_leave)()

    assert Prediction.objects.get().status == "canceled"
