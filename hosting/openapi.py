"""The OpenAPI document of /v1 (drf-spectacular) and the pages that serve it.

drf-spectacular finds the DRF views by itself but cannot see the plain async views of the hot
path (prediction creation, SSE streams), and our DRF views return plain JSON shapes
(`inference.representations`) rather than serializers. `describe_api`, a postprocessing hook, adds
the missing operations and fills in every request and response body from the schemas below,
which mirror those shape functions and replicate-api.md §5.
"""

from typing import Any

from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    """A cursor page of `item`s, with absolute `previous`/`next` links (null at the ends)."""
    link = {"type": "string", "format": "uri", "nullable": True}
    return {
        "type": "object",
        "properties": {"previous": link, "next": link, "results": {"type": "array", "items": _ref(item)}},
    }


_NULLABLE_STRING = {"type": "string", "nullable": True}
_MONEY = {"type": "string", "format": "decimal", "description": "US dollars, six decimal places", "example": "0.012345"}
_TIMESTAMP = {"type": "string", "format": "date-time", "nullable": True}
_STATUS = {"type": "string", "enum": ["starting", "processing", "succeeded", "failed", "canceled"]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "description": "RFC 7807 problem details, served as application/problem+json.",
        "properties": {
            "title": {"type": "string"},
            "detail": {"type": "string"},
            "status": {"type": "integer"},
            "invalid_fields": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "field": {"type": "string"},
                        "description": {"type": "string"},
                    },
                },
            },
        },
        "required": ["title", "detail", "status"],
    },
    "PredictionRequest": {
        "type": "object",
        "properties": {
            "version": {"type": "string", "description": "A version id, or owner/name:id (POST /v1/predictions only)"},
            "input": {"type": "object", "description": "Checked against the version's Input schema"},
            "webhook": {"type": "string", "format": "uri"},
            "webhook_events_filter": {
                "type": "array",
                "items": {"type": "string", "enum": ["start", "output", "logs", "completed"]},
            },
            "stream": {"type": "boolean", "description": "Accepted for compatibility; iterator models always stream"},
        },
    },
    "Prediction": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "model": {"type": "string", "example": "alice/echo"},
            "version": {"type": "string"},
            "input": {"type": "object"},
            "output": {"nullable": True, "description": "Whatever the model returns; grows while an iterator runs"},
            "logs": {"type": "string"},
            "error": _NULLABLE_STRING,
            "status": _STATUS,
            "metrics": {
                "type": "object",
                "properties": {
                    "predict_time": {"type": "number"},
                    "total_time": {"type": "number"},
                    "cost": {**_MONEY, "description": "What the prediction was billed, US dollars (when it ran)"},
                },
            },
            "source": {"type": "string", "enum": ["api", "web"]},
            "data_removed": {"type": "boolean"},
            "created_at": _TIMESTAMP,
            "started_at": _TIMESTAMP,
            "completed_at": _TIMESTAMP,
            "urls": {
                "type": "object",
                "properties": {
                    "get": {"type": "string", "format": "uri"},
                    "cancel": {"type": "string", "format": "uri"},
                    "web": {"type": "string", "format": "uri"},
                    "stream": {"type": "string", "format": "uri", "description": "Only for iterator outputs"},
                },
            },
        },
        "required": ["id", "model", "version", "input", "status", "urls", "created_at"],
    },
    "PredictionPage": _page("Prediction"),
    "File": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "content_type": {"type": "string"},
            "size": {"type": "integer"},
            "etag": {"type": "string"},
            "checksums": {"type": "object", "properties": {"sha256": {"type": "string"}, "md5": {"type": "string"}}},
            "metadata": {"type": "object"},
            "created_at": _TIMESTAMP,
            "expires_at": _TIMESTAMP,
            "urls": {"type": "object", "properties": {"get": {"type": "string", "format": "uri"}}},
        },
    },
    "FilePage": _page("File"),
    "Version": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "SHA-256 of the model package"},
            "created_at": _TIMESTAMP,
            "cog_version": {"type": "string"},
            "openapi_schema": {"type": "object", "description": "Cog schema with components.schemas.Input/Output"},
        },
    },
    "VersionPage": _page("Version"),
    "Model": {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "owner": {"type": "string"},
            "name": {"type": "string"},
            "description": _NULLABLE_STRING,
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "github_url": _NULLABLE_STRING,
            "paper_url": _NULLABLE_STRING,
            "license_url": _NULLABLE_STRING,
            "cover_image_url": _NULLABLE_STRING,
            "run_count": {"type": "integer"},
            "hardware": {"type": "string", "example": "gpu-t4"},
            "default_example": {"nullable": True},
            "latest_version": {"allOf": [_ref("Version")], "nullable": True},
        },
    },
    "ModelRequest": {
        "type": "object",
        "properties": {
            "owner": {"type": "string"},
            "name": {"type": "string"},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "hardware": {"type": "string", "description": "A hardware SKU from GET /v1/hardware"},
            "description": {"type": "string"},
            "github_url": {"type": "string"},
            "paper_url": {"type": "string"},
            "license_url": {"type": "string"},
            "cover_image_url": {"type": "string"},
        },
        "required": ["owner", "name", "visibility", "hardware"],
    },
    "Account": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["user", "organization"]},
            "username": {"type": "string"},
            "name": {"type": "string"},
            "github_url": _NULLABLE_STRING,
        },
    },
    "Hardware": {"type": "object", "properties": {"sku": {"type": "string"}, "name": {"type": "string"}}},
    "WebhookSecret": {"type": "object", "properties": {"key": {"type": "string", "example": "whsec_..."}}},
    "UsageLine": {
        "type": "object",
        "properties": {
            "predictions": {"type": "integer"},
            "seconds": {"type": "string", "format": "decimal", "description": "Billed seconds (milliseconds kept)"},
            "amount": _MONEY,
        },
    },
    "Usage": {
        "type": "object",
        "description": "This calendar month (UTC) of the calling account.",
        "properties": {
            "currency": {"type": "string", "example": "USD"},
            "month_start": {"type": "string", "format": "date-time"},
            "month_to_date_spend": _MONEY,
            "spending_limit": {**_MONEY, "nullable": True, "description": "Null: no limit"},
            "credit": {**_MONEY, "nullable": True, "description": "Prepaid balance; null: billed afterwards"},
            "by_model": {
                "type": "array",
                "items": {
                    "allOf": [{"type": "object", "properties": {"model": {"type": "string"}}}, _ref("UsageLine")]
                },
            },
            "by_day": {
                "type": "array",
                "description": "Every day of the month so far, oldest first",
                "items": {
                    "allOf": [
                        {"type": "object", "properties": {"date": {"type": "string", "format": "date"}}},
                        _ref("UsageLine"),
                    ]
                },
            },
        },
    },
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


_PARAMETERS = {
    "owner": {"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}},
    "name": {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    "prediction_id": {"name": "prediction_id", "in": "path", "required": True, "schema": {"type": "string"}},
    "version_id": {"name": "version_id", "in": "path", "required": True, "schema": {"type": "string"}},
    "file_id": {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}},
}
_COMMON_ERRORS = {"401": _problem("No valid API token"), "429": _problem("Rate limited; see Retry-After")}
_CREATE = {
    "requestBody": {"content": {"application/json": {"schema": _ref("PredictionRequest")}}},
    "parameters": [
        {
            "name": "Prefer",
            "in": "header",
            "schema": {"type": "string", "example": "wait=60"},
            "description": "`wait[=1..60]`: hold the request until the prediction finishes",
        },
        {
            "name": "Cancel-After",
            "in": "header",
            "schema": {"type": "string", "example": "5m"},
            "description": "Cancel the prediction if it has not finished this long after creation",
        },
    ],
    "responses": {
        "201": _json(_ref("Prediction"), "Created (with its output when `Prefer: wait` saw it finish)"),
        "402": _problem("Spending limit reached or insufficient credit"),
        "404": _problem("No such model (or not yours to run)"),
        "409": _problem("The model or version has been disabled by the operators"),
        "422": _problem("Invalid version or input (`invalid_fields`)"),
        **_COMMON_ERRORS,
    },
}

# (path, method) -> what the operation does. Paths are the public ones, as clients call them.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/predictions", "post"): {"summary": "Create a prediction of a version", "tags": ["predictions"], **_CREATE},
    ("/v1/predictions", "get"): {
        "summary": "List your predictions, newest first",
        "tags": ["predictions"],
        "parameters": [{"name": "cursor", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": _json(_ref("PredictionPage")), **_COMMON_ERRORS},
    },
    ("/v1/models/{owner}/{name}/predictions", "post"): {
        "summary": "Create a prediction of a model's latest version",
        "tags": ["predictions"],
        **_CREATE,
        "parameters": [_PARAMETERS["owner"], _PARAMETERS["name"], *_CREATE["parameters"]],
    },
    ("/v1/predictions/{prediction_id}", "get"): {
        "summary": "Get a prediction",
        "tags": ["predictions"],
        "parameters": [_PARAMETERS["prediction_id"]],
        "responses": {"200": _json(_ref("Prediction")), "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/predictions/{prediction_id}/cancel", "post"): {
        "summary": "Cancel a prediction",
        "tags": ["predictions"],
        "parameters": [_PARAMETERS["prediction_id"]],
        "responses": {"200": _json(_ref("Prediction")), "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/predictions/{prediction_id}/stream", "get"): {
        "summary": "Server-sent events of a prediction (the `urls.stream` capability URL)",
        "tags": ["predictions"],
        "security": [],
        "parameters": [
            _PARAMETERS["prediction_id"],
            {"name": "signature", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "`output`, `logs`, `error` and `done` events",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "404": _problem("Not found or bad signature"),
        },
    },
    ("/v1/models", "post"): {
        "summary": "Create a model",
        "tags": ["models"],
        "requestBody": {"content": {"application/json": {"schema": _ref("ModelRequest")}}},
        "responses": {
            "201": _json(_ref("Model"), "Created"),
            "400": _problem("Invalid fields"),
            "403": _problem("Not your account"),
            "409": _problem("Exists already"),
            **_COMMON_ERRORS,
        },
    },
    ("/v1/models/{owner}/{name}", "get"): {
        "summary": "Get a model",
        "tags": ["models"],
        "parameters": [_PARAMETERS["owner"], _PARAMETERS["name"]],
        "responses": {"200": _json(_ref("Model")), "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/models/{owner}/{name}/versions", "get"): {
        "summary": "List a model's versions",
        "tags": ["models"],
        "parameters": [_PARAMETERS["owner"], _PARAMETERS["name"]],
        "responses": {"200": _json(_ref("VersionPage")), "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/models/{owner}/{name}/versions", "post"): {
        "summary": "Push a version: the body is a .tar.gz of a Cog directory",
        "tags": ["models"],
        "parameters": [_PARAMETERS["owner"], _PARAMETERS["name"]],
        "requestBody": {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {
            "201": _json(_ref("Version"), "Created"),
            "404": _problem("Not your model"),
            "413": _problem("Package too large"),
            "422": _problem("Invalid package"),
            **_COMMON_ERRORS,
        },
    },
    ("/v1/models/{owner}/{name}/versions/{version_id}", "get"): {
        "summary": "Get a version",
        "tags": ["models"],
        "parameters": [_PARAMETERS["owner"], _PARAMETERS["name"], _PARAMETERS["version_id"]],
        "responses": {"200": _json(_ref("Version")), "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/account", "get"): {
        "summary": "The account the token belongs to",
        "tags": ["account"],
        "responses": {"200": _json(_ref("Account")), **_COMMON_ERRORS},
    },
    ("/v1/account/usage", "get"): {
        "summary": "Month-to-date spend, limit, credit, and usage by model and by day",
        "tags": ["account"],
        "responses": {"200": _json(_ref("Usage")), **_COMMON_ERRORS},
    },
    ("/v1/hardware", "get"): {
        "summary": "Hardware SKUs a model can run on",
        "tags": ["models"],
        "responses": {"200": _json({"type": "array", "items": _ref("Hardware")}), **_COMMON_ERRORS},
    },
    ("/v1/files", "post"): {
        "summary": "Upload a file to use as a prediction input",
        "tags": ["files"],
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["content"],
                        "properties": {
                            "content": {"type": "string", "format": "binary"},
                            "metadata": {"type": "string", "description": "A JSON object, as text or a file part"},
                            "filename": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    }
                }
            }
        },
        "responses": {
            "201": _json(_ref("File"), "Created"),
            "400": _problem("Malformed upload"),
            "413": _problem("Too large (FILE_MAX_BYTES)"),
            **_COMMON_ERRORS,
        },
    },
    ("/v1/files", "get"): {
        "summary": "List your uploaded files, newest first",
        "tags": ["files"],
        "parameters": [{"name": "cursor", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": _json(_ref("FilePage")), **_COMMON_ERRORS},
    },
    ("/v1/files/{file_id}", "get"): {
        "summary": "Get a file",
        "tags": ["files"],
        "parameters": [_PARAMETERS["file_id"]],
        "responses": {"200": _json(_ref("File")), "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/files/{file_id}", "delete"): {
        "summary": "Delete a file",
        "tags": ["files"],
        "parameters": [_PARAMETERS["file_id"]],
        "responses": {"204": {"description": "Deleted"}, "404": _problem("Not found"), **_COMMON_ERRORS},
    },
    ("/v1/files/{file_id}/download/{filename}", "get"): {
        "summary": "The bytes of a file (a signed capability URL, as in output `urls`)",
        "tags": ["files"],
        "security": [],
        "parameters": [
            _PARAMETERS["file_id"],
            {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "expiry", "in": "query", "required": True, "schema": {"type": "integer"}},
            {"name": "signature", "in": "query", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "The file's bytes, with its content type",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            "404": _problem("Not found, expired or bad signature"),
        },
    },
    ("/v1/webhooks/default/secret", "get"): {
        "summary": "The account's webhook signing secret",
        "tags": ["webhooks"],
        "responses": {"200": _json(_ref("WebhookSecret")), **_COMMON_ERRORS},
    },
}


def describe_api(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the async views and describe every body."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token, `r8_...`",
    }
    result["security"] = [{"bearerAuth": []}]
    paths = result.setdefault("paths", {})
    for (url, method), operation in OPERATIONS.items():
        generated = paths.setdefault(url, {}).get(method, {})
        operation_id = generated.get("operationId") or f"{method}_{url.strip('/').replace('/', '_')}"
        paths[url][method] = {"operationId": operation_id.replace("{", "").replace("}", ""), **operation}
    return result


schema_urlpatterns = [
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
]
