"""The fixed part of Cog's OpenAPI document: the HTTP routes and request/response models.

Everything here is what cog 0.16.12 (FastAPI + pydantic 2) emits for the
prediction API, key order included, so that a document built from it is
identical to the legacy generator's. A version whose cog.yaml names a ``train``
entry point also gets Cog's ``/trainings`` routes and the ``TrainingRequest`` and
``TrainingResponse`` models around its ``TrainingInput`` and ``TrainingOutput``
(Hearth serves trainings at ``/v1/models/.../versions/.../trainings``; the
routes are there so the document is the one Cog makes).
"""

from __future__ import annotations

from typing import Any

_ERRORS = "#/components/schemas/HTTPValidationError"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(schema: dict[str, Any], *, validated: bool = True) -> dict[str, Any]:
    responses = {"200": {"description": "Successful Response", "content": _json(schema)}}
    if validated:
        responses["422"] = {"description": "Validation Error", "content": _json({"$ref": _ERRORS})}
    return responses


def _nullable(title: str, **schema: Any) -> dict[str, Any]:
    return {"title": title, **schema, "nullable": True}


def _enum(title: str, values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values, "title": title, "description": "An enumeration."}


_PREFER = {
    "name": "prefer",
    "in": "header",
    "required": False,
    "schema": {"title": "Prefer", "type": "string"},
}
_PREDICTION_ID = {
    "name": "prediction_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "title": "Prediction ID"},
}
_TRAINING_ID = {
    "name": "training_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "title": "Training ID"},
}
_EVENTS = ["start", "output", "logs", "completed"]


def _training_paths() -> dict[str, Any]:
    """Cog's /trainings routes, which FastAPI lists right after /shutdown."""
    return {
        "/trainings": {
            "post": {
                "summary": "Train",
                "operationId": "train_trainings_post",
                "parameters": [_PREFER],
                "requestBody": {"content": _json(_ref("TrainingRequest"))},
                "responses": _responses(_ref("TrainingResponse")),
            }
        },
        "/trainings/{training_id}": {
            "put": {
                "summary": "Train Idempotent",
                "operationId": "train_idempotent_trainings__training_id__put",
                "parameters": [_TRAINING_ID, _PREFER],
                "requestBody": {"required": True, "content": _json(_ref("TrainingRequest"))},
                "responses": _responses(_ref("TrainingResponse")),
            }
        },
        "/trainings/{training_id}/cancel": {
            "post": {
                "summary": "Cancel Training",
                "operationId": "cancel_training_trainings__training_id__cancel_post",
                "parameters": [_TRAINING_ID],
                "responses": _responses({"title": "Response Cancel Training Trainings  Training Id  Cancel Post"}),
            }
        },
    }


def _paths(*, training: bool) -> dict[str, Any]:
    def untyped(title: str) -> dict[str, Any]:
        return {"title": title}

    return {
        "/shutdown": {
            "post": {
                "summary": "Start Shutdown",
                "operationId": "start_shutdown_shutdown_post",
                "responses": _responses(untyped("Response Start Shutdown Shutdown Post"), validated=False),
            }
        },
        **(_training_paths() if training else {}),
        "/": {
            "get": {
                "summary": "Root",
                "operationId": "root__get",
                "responses": _responses(untyped("Response Root  Get"), validated=False),
            }
        },
        "/health-check": {
            "get": {
                "summary": "Healthcheck",
                "operationId": "healthcheck_health_check_get",
                "responses": _responses(untyped("Response Healthcheck Health Check Get"), validated=False),
            }
        },
        "/predictions": {
            "post": {
                "summary": "Predict",
                "description": "Run a single prediction on the model",
                "operationId": "predict_predictions_post",
                "parameters": [_PREFER],
                "requestBody": {"content": _json(_ref("PredictionRequest"))},
                "responses": _responses(_ref("PredictionResponse")),
            }
        },
        "/predictions/{prediction_id}": {
            "put": {
                "summary": "Predict Idempotent",
                "description": "Run a single prediction on the model (idempotent creation).",
                "operationId": "predict_idempotent_predictions__prediction_id__put",
                "parameters": [_PREDICTION_ID, _PREFER],
                "requestBody": {
                    "required": True,
                    "content": _json({"allOf": [_ref("PredictionRequest")], "title": "Prediction Request"}),
                },
                "responses": _responses(_ref("PredictionResponse")),
            }
        },
        "/predictions/{prediction_id}/cancel": {
            "post": {
                "summary": "Cancel",
                "description": "Cancel a running prediction",
                "operationId": "cancel_predictions__prediction_id__cancel_post",
                "parameters": [_PREDICTION_ID],
                "responses": _responses(untyped("Response Cancel Predictions  Prediction Id  Cancel Post")),
            }
        },
    }


def _fixed_components() -> dict[str, Any]:
    timestamp = {"type": "string", "format": "date-time"}
    return {
        "HTTPValidationError": {
            "properties": {
                "detail": {"items": _ref("ValidationError"), "type": "array", "title": "Detail"},
            },
            "type": "object",
            "title": "HTTPValidationError",
        },
        "PredictionRequest": {
            "properties": {
                "input": {**_ref("Input"), "nullable": True},
                "id": _nullable("Id", type="string"),
                "created_at": _nullable("Created At", **timestamp),
                "context": _nullable("Context", additionalProperties={"type": "string"}, type="object"),
                "output_file_prefix": _nullable("Output File Prefix", type="string"),
                "webhook": _nullable("Webhook", type="string", maxLength=65536, minLength=1, format="uri"),
                "webhook_events_filter": {
                    "default": list(_EVENTS),
                    "items": _ref("WebhookEvent"),
                    "type": "array",
                    "nullable": True,
                },
            },
            "type": "object",
            "title": "PredictionRequest",
        },
        "PredictionResponse": {
            "properties": {
                "input": {**_ref("Input"), "nullable": True},
                "output": _ref("Output"),
                "id": _nullable("Id", type="string"),
                "version": _nullable("Version", type="string"),
                "created_at": _nullable("Created At", **timestamp),
                "started_at": _nullable("Started At", **timestamp),
                "completed_at": _nullable("Completed At", **timestamp),
                "logs": {"type": "string", "title": "Logs", "default": ""},
                "error": _nullable("Error", type="string"),
                "status": {**_ref("Status"), "nullable": True},
                "metrics": _nullable("Metrics", additionalProperties=True, type="object"),
            },
            "type": "object",
            "title": "PredictionResponse",
        },
        "Status": _enum("Status", ["starting", "processing", "succeeded", "canceled", "failed"]),
        "ValidationError": {
            "properties": {
                "loc": {
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "type": "array",
                    "title": "Location",
                },
                "msg": {"type": "string", "title": "Message"},
                "type": {"type": "string", "title": "Error Type"},
            },
            "type": "object",
            "required": ["loc", "msg", "type"],
            "title": "ValidationError",
        },
        "WebhookEvent": _enum("WebhookEvent", list(_EVENTS)),
    }


def _training_components() -> dict[str, Any]:
    """TrainingRequest and TrainingResponse: the prediction ones around TrainingInput and
    TrainingOutput (pydantic gives the request's events filter a title there, and the
    response's output is nullable)."""
    fixed = _fixed_components()
    request = fixed["PredictionRequest"]["properties"]
    response = fixed["PredictionResponse"]["properties"]
    return {
        "TrainingRequest": {
            "properties": {
                **request,
                "input": {**_ref("TrainingInput"), "nullable": True},
                "webhook_events_filter": {"title": "Webhook Events Filter", **request["webhook_events_filter"]},
            },
            "type": "object",
            "title": "TrainingRequest",
        },
        "TrainingResponse": {
            "properties": {
                **response,
                "input": {**_ref("TrainingInput"), "nullable": True},
                "output": {**_ref("TrainingOutput"), "nullable": True},
            },
            "type": "object",
            "title": "TrainingResponse",
        },
    }


# Names a predictor's own components (choice enums, output models) must not take.
RESERVED_COMPONENTS = (
    frozenset(_fixed_components())
    | frozenset(_training_components())
    | {"Input", "Output", "TrainingInput", "TrainingOutput"}
)


def build_document(components: dict[str, Any], *, training: bool = False) -> dict[str, Any]:
    """The whole document around the predictor's ``Input``, ``Output`` and enum components
    (and, with `training`, the trainer's ``TrainingInput`` and ``TrainingOutput``)."""
    schemas = {**_fixed_components(), **(_training_components() if training else {}), **components}
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": _paths(training=training),
        # FastAPI lists components sorted by name (so "Zed" comes before "b").
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
