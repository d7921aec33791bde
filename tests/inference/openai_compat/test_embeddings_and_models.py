"""POST /openai/v1/embeddings and GET /openai/v1/models in-process."""

import base64
import struct

from inference.deployments import services as deployment_services
from inference.models import OpenAIApi, Prediction
from tests.inference.openai_compat.conftest import CHAT_SCHEMA, EMBEDDINGS_SCHEMA, make_model, post

VECTORS = [[0.5, -0.25, 1.0], [0.0, 0.125, -1.0]]


def test_embeddings_are_one_vector_per_input_in_order(api, alice, embeddings_model, worker):
    worker.pieces = VECTORS
    worker.state["metrics"] = {"input_token_count": 9}

    response = post(api, "/embeddings", {"model": "alice/vectors", "input": ["first", "two\nlines"]}, alice)

    assert response.status_code == 200, response.content
    prediction = Prediction.objects.get()
    # One text each: the model would read a text of two lines as two texts.
    assert prediction.input == {"texts": ["first", "two lines"]}
    assert response["x-request-id"] == prediction.id
    assert response.json() == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": VECTORS[0]},
            {"object": "embedding", "index": 1, "embedding": VECTORS[1]},
        ],
        "model": "alice/vectors",
        "usage": {"prompt_tokens": 9, "total_tokens": 9},
    }


def test_embeddings_come_as_base64_float32_when_asked(api, alice, embeddings_model, worker):
    """What the `openai` Python client asks for unless told otherwise."""
    worker.pieces = VECTORS[:1]

    body = {"model": "alice/vectors", "input": "first", "encoding_format": "base64"}
    (item,) = post(api, "/embeddings", body, alice).json()["data"]

    assert list(struct.unpack("<3f", base64.b64decode(item["embedding"]))) == VECTORS[0]


def test_a_model_that_returns_the_wrong_number_of_vectors_is_a_500(api, alice, embeddings_model, worker):
    worker.pieces = VECTORS

    response = post(api, "/embeddings", {"model": "alice/vectors", "input": "only one"}, alice)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "model_error"


def test_embeddings_refuse_empty_texts_and_dimensions(api, alice, embeddings_model):
    for body, param in (({"input": ["fine", "  "]}, "input"), ({"input": "x", "dimensions": 8}, "dimensions")):
        response = post(api, "/embeddings", {"model": "alice/vectors", **body}, alice)
        assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert not Prediction.objects.exists()


def test_models_lists_what_the_token_may_run_that_declares_itself(api, alice, bob, cpu, chat_model, embeddings_model):
    make_model(alice.account, cpu, "undeclared", CHAT_SCHEMA, OpenAIApi.NONE, sha="d")
    make_model(bob.account, cpu, "public-chat", CHAT_SCHEMA, OpenAIApi.CHAT, visibility="public", sha="e")
    make_model(bob.account, cpu, "private-vectors", EMBEDDINGS_SCHEMA, OpenAIApi.EMBEDDINGS, sha="f")
    deployment_services.deployment_create(
        account=alice.account,
        name="chat-prod",
        version=chat_model.latest_version,
        hardware=cpu,
        min_instances=0,
        max_instances=1,
    )

    listed = api.get("/openai/v1/models", **alice.auth).json()
    seen_by_bob = api.get("/openai/v1/models", **bob.auth).json()

    assert listed["object"] == "list"
    assert [model["id"] for model in listed["data"]] == [
        "alice/chat",
        "alice/vectors",
        "bob/public-chat",
        "deployments/alice/chat-prod",
    ]
    assert listed["data"][0] == {
        "id": "alice/chat",
        "object": "model",
        "created": int(chat_model.created_at.timestamp()),
        "owned_by": "alice",
    }
    assert [model["id"] for model in seen_by_bob["data"]] == ["bob/private-vectors", "bob/public-chat"]


def test_a_model_can_be_retrieved_by_its_name(api, alice, chat_model, embeddings_model):
    assert api.get("/openai/v1/models/alice/vectors", **alice.auth).json()["id"] == "alice/vectors"
    response = api.get("/openai/v1/models/alice/nope", **alice.auth)
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
