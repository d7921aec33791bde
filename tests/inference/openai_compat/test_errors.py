"""Refusals of the OpenAI-compatible endpoints: OpenAI's error shape, the statuses its clients
map, no retry where a retry cannot help, and tenant isolation (another tenant's private model
is OpenAI's `model_not_found`, exactly like a missing one, and nothing is created)."""

from decimal import Decimal

import pytest

from accounts.models import Account
from billing.models import DisabledModel
from inference.models import OpenAIApi, Prediction
from tests.inference.openai_compat.conftest import CHAT_SCHEMA, make_model, post

MESSAGES = [{"role": "user", "content": "hi"}]


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize("header", [None, "Bearer sk-an-openai-key", "Bearer r8_notarealtoken"])
def test_a_missing_or_unknown_key_is_a_401_invalid_api_key(api, chat_model, header):
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    for response in (
        api.get("/openai/v1/models", **headers),
        api.post("/openai/v1/chat/completions", data="{}", content_type="application/json", **headers),
    ):
        error = error_of(response, 401)
        assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
        assert response["x-should-retry"] == "false"


def test_an_unknown_model_is_model_not_found(api, alice, chat_model):
    error = error_of(post(api, "/chat/completions", {"model": "alice/nope", "messages": MESSAGES}, alice), 404)

    assert error == {
        "message": "The model `alice/nope` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


@pytest.mark.parametrize("name", ["nope", "deployments/alice/nope", "deployments/alice", f"alice/chat:{'f' * 64}"])
def test_every_form_of_a_name_that_names_nothing_is_model_not_found(api, alice, chat_model, name):
    error = error_of(post(api, "/chat/completions", {"model": name, "messages": MESSAGES}, alice), 404)
    assert error["code"] == "model_not_found"


def test_another_tenants_private_model_is_model_not_found_and_nothing_runs(
    api, alice, bob, chat_model, embeddings_model
):
    missing = error_of(post(api, "/chat/completions", {"model": "alice/missing", "messages": MESSAGES}, bob), 404)
    for path, body in (
        ("/chat/completions", {"model": "alice/chat", "messages": MESSAGES}),
        ("/completions", {"model": "alice/chat", "prompt": "hi"}),
        ("/chat/completions", {"model": f"alice/chat:{chat_model.latest_version.sha256}", "messages": MESSAGES}),
        ("/embeddings", {"model": "alice/vectors", "input": "hi"}),
    ):
        error = error_of(post(api, path, body, bob), 404)
        assert error == {**missing, "message": missing["message"].replace("alice/missing", body["model"])}
    assert error_of(api.get("/openai/v1/models/alice/chat", **bob.auth), 404)["code"] == "model_not_found"
    assert not Prediction.objects.exists()


def test_a_model_not_declared_for_the_endpoint_is_refused(api, alice, cpu, chat_model, embeddings_model):
    make_model(alice.account, cpu, "plain", CHAT_SCHEMA, OpenAIApi.NONE, sha="d")

    plain = error_of(post(api, "/chat/completions", {"model": "alice/plain", "messages": MESSAGES}, alice), 404)
    wrong = error_of(post(api, "/embeddings", {"model": "alice/chat", "input": "hi"}, alice), 404)

    assert plain["code"] == wrong["code"] == "model_not_supported"
    assert "not declared it a chat model" in plain["message"]
    assert "not declared it an embeddings model" in wrong["message"]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": MESSAGES, "max_tokens": 5000}, "max_tokens"),
        ({"messages": MESSAGES, "top_p": 0}, "top_p"),
        ({"messages": MESSAGES, "temperature": "hot"}, "temperature"),
        ({"messages": []}, "messages"),
        ({}, "messages"),
        ({"messages": MESSAGES, "n": 2}, "n"),
        ({"messages": MESSAGES, "stop": "a,b"}, "stop"),
        ({"messages": [{"role": "tool", "content": "42"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it_and_nothing_runs(api, alice, chat_model, body, param):
    error = error_of(post(api, "/chat/completions", {"model": "alice/chat", **body}, alice), 400)

    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert not Prediction.objects.exists()


def test_a_body_that_is_not_json_is_a_400(api, alice, chat_model):
    response = api.post("/openai/v1/chat/completions", data="{", content_type="application/json", **alice.auth)
    assert error_of(response, 400)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("limits", "words"), [({"spending_limit": Decimal(0)}, "spending limit"), ({"credit": Decimal(0)}, "credit")]
)
def test_the_spending_limit_is_openais_insufficient_quota_not_retried(api, alice, chat_model, limits, words):
    Account.objects.filter(pk=alice.account.pk).update(**limits)

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": MESSAGES}, alice)

    error = error_of(response, 429)
    assert error["type"] == error["code"] == "insufficient_quota"
    assert words in error["message"]
    assert response["x-should-retry"] == "false"  # the openai client would retry a 429 twice
    assert not Prediction.objects.exists()


def test_the_rate_limit_is_a_429_the_client_may_retry(api, alice, chat_model, worker, settings):
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 1
    assert post(api, "/chat/completions", {"model": "alice/chat", "messages": MESSAGES}, alice).status_code == 200

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": MESSAGES}, alice)

    error = error_of(response, 429)
    assert error["code"] == "rate_limit_exceeded"
    assert response["x-should-retry"] == "true" and int(response["Retry-After"]) >= 1
    assert Prediction.objects.count() == 1


def test_a_disabled_model_is_refused_and_not_retried(api, alice, chat_model):
    DisabledModel.objects.create(model=chat_model, reason="maintenance")

    response = post(api, "/chat/completions", {"model": "alice/chat", "messages": MESSAGES}, alice)

    error = error_of(response, 409)
    assert "maintenance" in error["message"] and response["x-should-retry"] == "false"


def test_an_unknown_path_or_method_answers_in_openais_shape(api, alice):
    assert error_of(api.get("/openai/v1/assistants", **alice.auth), 404)["code"] == "unknown_url"
    response = api.get("/openai/v1/chat/completions", **alice.auth)
    assert error_of(response, 405)["code"] == "method_not_allowed" and response["Allow"] == "POST"


@pytest.mark.parametrize("path", ["/chat/completions", "/completions", "/embeddings"])
@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"42",
        b'{"model": 7}',
        b'{"model": "alice/chat\\u0000", "messages": [], "prompt": "x", "input": "x"}',
        b'{"model": "alice/chat", "messages": [{"role": "user", "content": "\\ud800"}], "prompt": "\\ud800"}',
        b'{"model": "alice/chat", "messages": [{"role": "user", "content": 1e400}]}',
        b'{"model": "alice/chat", "messages": "hi", "prompt": 5, "input": [1, 2]}',
        b'{"model": "alice/chat", "messages": [{"role": "user", "content": null}], "max_tokens": true}',
        b"[" * 100_000 + b"]" * 100_000,
        '{"model": "alice/chat"}'.encode("utf-16"),
    ],
)
def test_a_malformed_body_is_a_400_in_openais_shape_and_nothing_runs(
    api, alice, chat_model, embeddings_model, path, raw
):
    response = api.post(f"/openai/v1{path}", data=raw, content_type="application/json", **alice.auth)

    assert error_of(response, 400)["type"] == "invalid_request_error"
    assert not Prediction.objects.exists()
