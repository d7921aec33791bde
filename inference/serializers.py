"""JSON shapes of the /v1 API objects (replicate-api.md §5).

Plain functions rather than DRF serializers: these run on every poll and on the
create hot path, and the shapes are fixed by the client.
"""

from datetime import datetime
from typing import Any

from django.conf import settings

from accounts.models import Account
from billing.models import Hardware
from inference.models import Model, Prediction, Version


def base_url(request) -> str:
    """The absolute origin clients reach us at (`urls.*`, pagination links)."""
    return settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


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


def prediction_json(prediction: Prediction, *, origin: str, model_name: str, version_id: str) -> dict[str, Any]:
    api = f"{origin}/v1/predictions/{prediction.id}"
    return {
        "id": prediction.id,
        "model": model_name,
        "version": version_id,
        "input": prediction.input,
        **prediction_state_json(prediction),
        "source": prediction.source,
        "data_removed": prediction.data_removed,
        "created_at": timestamp(prediction.created_at),
        "urls": {"get": api, "cancel": f"{api}/cancel", "web": f"{origin}/p/{prediction.id}"},
    }


def prediction_json_with_relations(prediction: Prediction, *, origin: str) -> dict[str, Any]:
    """For predictions loaded with `select_related("model__owner", "version")`."""
    return prediction_json(
        prediction, origin=origin, model_name=prediction.model.full_name, version_id=prediction.version.sha256
    )


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


def account_json(account: Account) -> dict[str, Any]:
    return {
        "type": account.kind,
        "username": account.username,
        "name": account.name or account.username,
        "github_url": account.github_url or None,
    }


def hardware_json(hardware: Hardware) -> dict[str, str]:
    return {"sku": hardware.sku, "name": hardware.name}
