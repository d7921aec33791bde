"""A model's catalogue entry in its Model JSON (replicate-api.md §5.3): description, the cover the
platform serves (`cover_image_url`), and `default_example`, a whole Prediction once it has run."""

import pytest
from replicate.model import Model as ClientModel

from inference import catalogue
from inference.models import Prediction
from tests.inference.web.test_views import add_model

COVER = b'<svg xmlns="http://www.w3.org/2000/svg"/>'


@pytest.fixture
def captioner(alice, cpu):
    model = add_model(alice, cpu, "captioner", visibility="public")
    return catalogue.catalogue_set(
        model=model, description="Captions images", readme="# Captioner", cover=("cover.svg", COVER), demo_weights=True
    )


def _example(model, status: str) -> Prediction:
    example = Prediction.objects.create(
        account=model.owner,
        model=model,
        version=model.latest_version,
        input={"text": "hi"},
        status=status,
        output="hi" if status == "succeeded" else None,
        source="web",
    )
    model.default_example = example
    model.save()
    return example


def test_the_model_json_has_the_description_cover_and_example_as_the_client_takes_them(api, alice, bob, captioner):
    example = _example(captioner, "succeeded")
    body = api.get("/v1/models/alice/captioner", **bob.auth).json()  # someone else's public model
    assert body["description"] == "Captions images"
    assert body["cover_image_url"].startswith("http://testserver/alice/captioner/cover?signature=")
    shown = body["default_example"]
    assert (shown["id"], shown["model"], shown["version"], shown["status"]) == (
        example.id,
        "alice/captioner",
        captioner.latest_version.sha256,
        "succeeded",
    )
    assert (shown["input"], shown["output"], shown["urls"]["get"]) == (
        {"text": "hi"},
        "hi",
        f"http://testserver/v1/predictions/{example.id}",
    )
    parsed = ClientModel(**body)  # the Python client 1.0.7's own model: default_example must be a Prediction
    assert parsed.default_example.id == example.id and parsed.cover_image_url == body["cover_image_url"]
    listed = {model["name"]: model for model in api.get("/v1/models", **bob.auth).json()["results"]}
    assert listed["captioner"]["default_example"]["id"] == example.id


@pytest.mark.parametrize("status", ["starting", "processing", "failed", "canceled", "aborted"])
def test_an_example_is_in_the_model_json_only_once_it_has_run(api, alice, captioner, status):
    _example(captioner, status)
    assert api.get("/v1/models/alice/captioner", **alice.auth).json()["default_example"] is None


def test_the_cover_url_is_a_capability_that_ends_with_the_cover(api, client, alice, bob, cpu):
    """A token holder has no session: the Model JSON's link works without one, even for a private
    model, and only until the cover changes."""
    model = add_model(alice, cpu, "secret")
    catalogue.catalogue_set(model=model, description="", readme="", cover=("cover.svg", COVER), demo_weights=False)
    url = api.get("/v1/models/alice/secret", **alice.auth).json()["cover_image_url"]
    path = url.removeprefix("http://testserver")
    response = client.get(path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == COVER
    assert client.get(path.replace("signature=", "signature=x")).status_code == 404
    assert client.get("/alice/secret/cover").status_code == 404  # unsigned, signed out: a private model's
    catalogue.catalogue_set(
        model=model, description="", readme="", cover=("cover.svg", COVER + b" "), demo_weights=False
    )
    assert client.get(path).status_code == 404


def test_without_a_cover_of_its_own_the_model_json_keeps_the_url_its_owner_gave(api, alice, cpu):
    add_model(alice, cpu, "linked", cover_image_url="https://example.com/cover.png")
    add_model(alice, cpu, "bare", sha="c")
    assert api.get("/v1/models/alice/linked", **alice.auth).json()["cover_image_url"] == "https://example.com/cover.png"
    assert api.get("/v1/models/alice/bare", **alice.auth).json()["cover_image_url"] is None


def test_the_openapi_document_says_the_default_example_is_a_prediction(api, db):
    model = api.get("/v1/openapi.json").json()["components"]["schemas"]["Model"]
    example = model["properties"]["default_example"]
    assert {"$ref": "#/components/schemas/Prediction"} in example.get("anyOf", example.get("oneOf", []))
