"""/v1/openapi.json (drf-spectacular) describes every /v1 endpoint, the async ones included."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

from inference.models import Collection


def _v1_routes() -> set[str]:
    """Every concrete /v1 route, in OpenAPI path syntax."""
    routes = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("v1/") and "<path:" not in route:
                routes.add("/" + route.replace("<str:", "{").replace(">", "}"))

    walk(get_resolver().url_patterns, "")
    return routes - {"/v1/openapi.json", "/v1/docs"}


@pytest.fixture
def schema(api, db):  # the document lists the hardware SKUs there are
    response = api.get("/v1/openapi.json")  # no token needed
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["info"]["title"] == "Hearth HTTP API"


def test_every_v1_route_is_in_the_schema_with_each_method(schema):
    assert _v1_routes() and _v1_routes() <= set(schema["paths"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"] and operation["summary"], (path, method)
    assert set(schema["paths"]["/v1/predictions"]) == {"get", "post"}


def test_the_hot_path_operations_document_their_bodies_and_errors(schema):
    create = schema["paths"]["/v1/models/{owner}/{name}/predictions"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ModelPredictionRequest"
    }
    assert create["requestBody"]["required"] is False  # an empty body is an empty input
    by_version = schema["paths"]["/v1/predictions"]["post"]["requestBody"]
    assert by_version["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PredictionRequest"}
    assert by_version["required"] is True
    assert schema["components"]["schemas"]["PredictionRequest"]["required"] == ["version"]
    assert "version" not in schema["components"]["schemas"]["ModelPredictionRequest"]["properties"]
    assert {"201", "402", "409", "422", "429"} <= set(create["responses"])
    assert create["responses"]["402"]["content"]["application/problem+json"]
    prediction = schema["components"]["schemas"]["Prediction"]["properties"]
    assert prediction["metrics"] == {"$ref": "#/components/schemas/PredictionMetrics"}
    assert "cost" in schema["components"]["schemas"]["PredictionMetrics"]["properties"]
    stream = schema["paths"]["/v1/predictions/{prediction_id}/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]


def test_the_usage_endpoint_is_documented(schema):
    usage = schema["paths"]["/v1/account/usage"]["get"]
    assert usage["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Usage"}
    assert set(schema["components"]["schemas"]["Usage"]["properties"]) == {
        "currency",
        "month_start",
        "month_to_date_spend",
        "spending_limit",
        "credit",
        "by_model",
        "by_day",
        "saved_by_cache",
        "breakeven",
    }


def test_the_docs_page_renders_the_schema_with_bundled_assets(api):
    response = api.get("/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/v1/openapi.json" in page and "drf_spectacular_sidecar/swagger-ui-dist" in page


def test_every_field_the_endpoints_return_is_documented(api, schema, alice, echo_version):
    """The component schemas follow the real JSON shapes (inference.representations, billing.api)."""
    documented = {
        name: set(component.get("properties", {})) for name, component in schema["components"]["schemas"].items()
    }
    prediction = api.post(
        "/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **alice.auth
    ).json()
    Collection.objects.create(name="Echoes", slug="echoes").models.add(echo_version.model)
    search = api.get("/v1/search", {"query": "echo"}, **alice.auth).json()
    assert search["models"] and search["collections"]
    responses = {
        "Prediction": prediction,
        "Model": api.get("/v1/models/alice/echo", **alice.auth).json(),
        "ModelPage": api.get("/v1/models", **alice.auth).json(),
        "Version": api.get(f"/v1/models/alice/echo/versions/{echo_version.sha256}", **alice.auth).json(),
        "Account": api.get("/v1/account", **alice.auth).json(),
        "Hardware": api.get("/v1/hardware", **alice.auth).json()[0],
        "WebhookSecret": api.get("/v1/webhooks/default/secret", **alice.auth).json(),
        "Usage": api.get("/v1/account/usage", **alice.auth).json(),
        "File": api.post("/v1/files", {"content": SimpleUploadedFile("a.txt", b"hi")}, **alice.auth).json(),
        "CollectionPage": api.get("/v1/collections", **alice.auth).json(),
        "CollectionDetail": api.get("/v1/collections/echoes", **alice.auth).json(),
        "Search": search,
    }
    for name, body in responses.items():
        assert set(body) <= documented[name], (name, set(body) - documented[name])
    nested = schema["components"]["schemas"]["Prediction"]["properties"]
    for nested_body, component in [
        (search["models"][0], "SearchModel"),
        (search["models"][0]["metadata"], "SearchModelMetadata"),
    ]:
        assert set(nested_body) <= documented[component], (component, set(nested_body))
    for field in ("urls", "metrics"):
        component = nested[field]["$ref"].rsplit("/", 1)[-1]
        assert set(prediction[field]) <= documented[component], (field, set(prediction[field]))
