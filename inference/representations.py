"""JSON shapes of the /v1 API objects (replicate-api.md §5).

Plain functions rather than DRF serializers: these run on every poll and on the
create hot path, and the shapes are fixed by the client.
"""

from typing import Any

from django.conf import settings
from django.core.signing import Signer

from hosting.timestamps import timestamp
from inference.models import File, Model, Prediction, Version
from inference.runtime.schema import output_is_iterator


def base_url(request) -> str:
    """The absolute origin clients reach us at (`urls.*`, pagination links)."""
    return settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"


def public_origin() -> str:
    """The origin for URLs made outside a request (by workers): set PUBLIC_BASE_URL in production."""
    return settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000"


def prediction_state_json(prediction: Prediction) -> dict[str, Any]:
    """The fields that change while a prediction runs (also the payload of its `done` event)."""
    return {
        "status": prediction.status,
        "output": prediction.output,
        "logs": prediction.logs,
        "error": prediction.error,
        "metrics": prediction.metrics,
        "started_at": timestamp(prediction.started_at),
        "completed_at": timestamp(prediction.completed_at),
    }


def prediction_json(prediction: Prediction, *, origin: str) -> dict[str, Any]:
    """For predictions whose `model.owner` and `version` are loaded."""
    api = f"{origin}/v1/predictions/{prediction.id}"
    urls = {"get": api, "cancel": f"{api}/cancel", "web": f"{origin}/p/{prediction.id}"}
    # Only models that yield an iterator stream; `urls` must hold no nulls (replicate-api.md §5.1).
    if output_is_iterator(prediction.version.openapi_schema):
        urls["stream"] = stream_url(prediction, origin=origin)
    return {
        "id": prediction.id,
        "model": prediction.model.full_name,
        "version": prediction.version.sha256,
        "input": prediction.input,
        **prediction_state_json(prediction),
        "source": prediction.source,
        "data_removed": prediction.data_removed,
        "created_at": timestamp(prediction.created_at),
        "urls": urls,
    }


def stream_url(prediction: Prediction, *, origin: str) -> str:
    """A capability URL: the JS client fetches streams without an Authorization header."""
    return f"{origin}/v1/predictions/{prediction.id}/stream?signature={stream_signature(prediction.id)}"


def stream_signature(prediction_id: str) -> str:
    return Signer(salt="hearth.prediction-stream").signature(prediction_id)


def version_json(version: Version) -> dict[str, Any]:
    return {
        "id": version.sha256,
        "created_at": timestamp(version.created_at),
        "cog_version": version.cog_version,
        "openapi_schema": version.openapi_schema,
    }


def model_json(model: Model, *, origin: str) -> dict[str, Any]:
    latest = model.latest_version
    return {
        "url": f"{origin}/{model.full_name}",
        "owner": model.owner.username,
        "name": model.name,
        "description": model.description or None,
        "visibility": model.visibility,
        "github_url": model.github_url or None,
        "paper_url": model.paper_url or None,
        "license_url": model.license_url or None,
        "cover_image_url": model.cover_image_url or None,
        "run_count": model.run_count,
        "hardware": model.hardware.sku,
        "default_example": None,
        "latest_version": version_json(latest) if latest else None,
    }


def file_json(file: File, *, origin: str) -> dict[str, Any]:
    """replicate-api.md §5.4: the client requires every one of these but `expires_at`."""
    return {
        "id": file.id,
        "name": file.name,
        "content_type": file.content_type,
        "size": file.size,
        "etag": file.md5,
        "checksums": {"sha256": file.sha256, "md5": file.md5},
        "metadata": file.metadata,
        "created_at": timestamp(file.created_at),
        "expires_at": timestamp(file.expires_at),
        "urls": {"get": f"{origin}/v1/files/{file.id}"},
    }
