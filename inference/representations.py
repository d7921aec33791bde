"""JSON shapes of the /v1 API objects (replicate-api.md §5): each declared once as a TypedDict
(the OpenAPI document's component, through `hosting.shapes`) and built by a plain function
that mypy holds to it.

Plain functions rather than DRF serializers: these run on every poll and on the create hot
path (a serializer took 167 µs for a prediction, this 7 µs), and the shapes are fixed by the
client.
"""

from collections.abc import Iterable
from typing import Annotated, Any, Literal, NotRequired

from django.conf import settings
from django.core.signing import Signer
from pydantic import Field
from typing_extensions import TypedDict

from accounts.api import AccountJSON, account_json
from hosting.shapes import Timestamp, Url, shape
from hosting.timestamps import timestamp
from inference.models import Collection, Deployment, DeploymentRelease, File, Model, Prediction, Version
from inference.runtime.schema import output_is_iterator

Status = Annotated[
    str,
    Field(
        json_schema_extra={"enum": list(Prediction.Status.values)},
        description="`aborted`: its Cancel-After deadline passed before it started, so it never ran and is "
        "not billed; the official clients (replicate-python, replicate-javascript User-Agents) are told "
        "`canceled` instead, since they break on `aborted`",
    ),
]
Visibility = Annotated[str, Field(json_schema_extra={"enum": list(Model.Visibility.values)})]
WebhookEvent = Annotated[str, Field(json_schema_extra={"enum": ["start", "output", "logs", "completed"]})]


class PredictionMetricsJSON(TypedDict, total=False):
    predict_time: Annotated[float, Field(description="Seconds predict() ran: what is billed")]
    total_time: Annotated[float, Field(description="Seconds from creation to completion")]
    setup_time: Annotated[float, Field(description="Seconds setup() took, when this prediction booted the model")]
    cold_boot: Annotated[bool, Field(description="Whether this prediction waited for the model to boot")]
    queue_time: Annotated[float, Field(description="Seconds from creation until a worker took it")]
    boot_time: Annotated[
        float,
        Field(description="Seconds from starting the model's process to ready (setup() included), on a cold boot"),
    ]
    cost: Annotated[
        str, Field(json_schema_extra={"format": "decimal"}, description="What the prediction was billed, US dollars")
    ]


class PredictionUrlsJSON(TypedDict):
    get: Url
    cancel: Url
    web: Url
    stream: NotRequired[Annotated[Url, Field(description="Server-sent events; only for iterator outputs")]]


class PredictionStateJSON(TypedDict):
    """The fields of a prediction that change while it runs."""

    status: Status
    output: Annotated[Any, Field(description="Whatever the model returns; grows while an iterator runs")]
    logs: str
    error: str | None
    metrics: PredictionMetricsJSON
    started_at: Timestamp | None
    completed_at: Timestamp | None


@shape
class PredictionJSON(PredictionStateJSON):
    id: str
    model: Annotated[str, Field(examples=["alice/echo"])]
    version: str
    input: dict[str, Any]
    source: Annotated[str, Field(json_schema_extra={"enum": list(Prediction.Source.values)})]
    data_removed: bool
    created_at: Timestamp | None
    deadline: Annotated[
        Timestamp | None, Field(description="When it is canceled (or aborted) if not done: creation + Cancel-After")
    ]
    urls: PredictionUrlsJSON
    deployment: NotRequired[
        Annotated[str, Field(examples=["alice/echo-prod"], description="owner/name, when made through a deployment")]
    ]


class TrainingUrlsJSON(TypedDict):
    get: Url
    cancel: Url
    web: Url


class TrainingOutputJSON(TypedDict):
    version: Annotated[
        str, Field(examples=["alice/greeter:5c7d…"], description="owner/name:id of the version the weights made")
    ]
    weights: Annotated[Url, Field(description="The trained weights file")]


@shape
class TrainingJSON(PredictionStateJSON):
    """A training: train() of `version` (of `model`), whose weights become a version of `destination`."""

    id: str
    model: Annotated[str, Field(examples=["alice/greeter"])]
    version: str
    destination: Annotated[
        str | None, Field(examples=["alice/greeter-tuned"], description="owner/name; null once it is deleted")
    ]
    input: dict[str, Any]
    output: Annotated[  # narrower than a prediction's
        TrainingOutputJSON | None, Field(description="On success: the version made and its weights")
    ]
    source: Annotated[str, Field(json_schema_extra={"enum": list(Prediction.Source.values)})]
    data_removed: bool
    created_at: Timestamp | None
    urls: TrainingUrlsJSON


@shape
class VersionJSON(TypedDict):
    id: Annotated[str, Field(description="SHA-256 of the model package")]
    created_at: Timestamp | None
    cog_version: str
    openapi_schema: Annotated[dict[str, Any], Field(description="Cog's schema, with components.schemas.Input/Output")]


@shape
class ModelJSON(TypedDict):
    url: Url
    owner: str
    name: str
    description: str | None
    visibility: Visibility
    github_url: str | None
    paper_url: str | None
    license_url: str | None
    cover_image_url: str | None
    run_count: int
    hardware: Annotated[str, Field(examples=["gpu-t4"])]
    default_example: Annotated[
        PredictionJSON | None, Field(description="A prediction of this model that shows what it does")
    ]
    latest_version: VersionJSON | None
    cache_policy: Annotated[
        Literal["off", "seeded", "deterministic"],
        Field(description="When its outputs may answer the same input again (`Prefer: cache`)"),
    ]
    cache_shared: Annotated[bool, Field(description="Whether cached outputs of a public model answer every account")]


@shape
class CollectionJSON(TypedDict):
    name: str
    slug: str
    description: str


@shape
class CollectionDetailJSON(CollectionJSON):
    models: Annotated[list[ModelJSON], Field(description="Only the models the caller may see")]


class SearchModelMetadataJSON(TypedDict):
    generated_description: str
    score: Annotated[float, Field(description="Relevance, 1.0 for the best match")]
    tags: list[str]


class SearchModelJSON(TypedDict):
    model: ModelJSON
    metadata: SearchModelMetadataJSON


class SearchPageResultJSON(TypedDict):
    name: str
    href: Url


@shape
class SearchJSON(TypedDict):
    query: str
    models: list[SearchModelJSON]
    collections: list[CollectionJSON]
    pages: Annotated[list[SearchPageResultJSON], Field(description="Always empty: Hearth has no pages to search")]


class FileChecksumsJSON(TypedDict):
    sha256: str
    md5: str


class FileUrlsJSON(TypedDict):
    get: Url


@shape
class FileJSON(TypedDict):
    id: str
    name: str
    content_type: str
    size: int
    etag: str
    checksums: FileChecksumsJSON
    metadata: dict[str, Any]
    created_at: Timestamp | None
    expires_at: Timestamp | None
    urls: FileUrlsJSON


# Cursor pages (hosting.pagination): absolute links, null at the ends.
@shape
class PredictionPageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[PredictionJSON]


@shape
class TrainingPageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[TrainingJSON]


@shape
class VersionPageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[VersionJSON]


@shape
class ModelPageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[ModelJSON]


@shape
class CollectionPageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[CollectionJSON]


@shape
class FilePageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[FileJSON]


def base_url(request) -> str:
    """The absolute origin clients reach us at (`urls.*`, pagination links)."""
    return settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"


def public_origin() -> str:
    """The origin for URLs made outside a request (by workers): set PUBLIC_BASE_URL in production."""
    return settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000"


def prediction_state_json(prediction: Prediction) -> PredictionStateJSON:
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


def prediction_json(prediction: Prediction, *, origin: str) -> PredictionJSON:
    """For predictions whose `model.owner` and `version` are loaded."""
    api = f"{origin}/v1/predictions/{prediction.id}"
    urls: PredictionUrlsJSON = {"get": api, "cancel": f"{api}/cancel", "web": f"{origin}/p/{prediction.id}"}
    # Only models that yield an iterator stream; `urls` must hold no nulls (replicate-api.md §5.1).
    if output_is_iterator(prediction.version.openapi_schema):
        urls["stream"] = stream_url(prediction, origin=origin)
    document: PredictionJSON = {
        "id": prediction.id,
        "model": prediction.model.full_name,
        "version": prediction.version.sha256,
        "input": prediction.input,
        **prediction_state_json(prediction),
        "source": prediction.source,
        "data_removed": prediction.data_removed,
        "created_at": timestamp(prediction.created_at),
        "deadline": timestamp(prediction.deadline),
        "urls": urls,
    }
    deployment = prediction.deployment if prediction.deployment_id is not None else None
    if deployment is not None:  # made through one (`deployment` and its owner loaded)
        document["deployment"] = deployment.full_name
    return document


def training_json(training: Prediction, *, origin: str) -> TrainingJSON:
    """For trainings whose `model.owner`, `version` and `destination.owner` are loaded
    (inference.trainings.selectors). The page of one is the prediction page, logs and all."""
    api = f"{origin}/v1/trainings/{training.id}"
    destination = training.destination if training.destination_id is not None else None
    return {
        "id": training.id,
        "model": training.model.full_name,
        "version": training.version.sha256,
        "destination": destination.full_name if destination is not None else None,
        "input": training.input,
        **prediction_state_json(training),
        "source": training.source,
        "data_removed": training.data_removed,
        "created_at": timestamp(training.created_at),
        "urls": {"get": api, "cancel": f"{api}/cancel", "web": f"{origin}/p/{training.id}"},
    }


def api_json(prediction: Prediction, *, origin: str) -> PredictionJSON | TrainingJSON:
    """What GET answers for it, and what its webhooks carry: a training's JSON or a prediction's."""
    if prediction.is_training:
        return training_json(prediction, origin=origin)
    return prediction_json(prediction, origin=origin)


def stream_url(prediction: Prediction, *, origin: str) -> str:
    """A capability URL: the JS client fetches streams without an Authorization header."""
    return f"{origin}/v1/predictions/{prediction.id}/stream?signature={stream_signature(prediction.id)}"


def stream_signature(prediction_id: str) -> str:
    return Signer(salt="hearth.prediction-stream").signature(prediction_id)


def version_json(version: Version) -> VersionJSON:
    return {
        "id": version.sha256,
        "created_at": timestamp(version.created_at),
        "cog_version": version.cog_version,
        "openapi_schema": version.openapi_schema,
    }


def cover_url(model: Model, *, origin: str) -> str | None:
    """The cover the platform serves (inference.web.views.model_cover), else the URL the owner
    gave, else None. A capability URL: whoever may read the Model JSON may show its cover (API
    clients hold a token, not the session the pages use), and it stops working when the cover
    changes."""
    if model.cover_image:
        return f"{origin}/{model.full_name}/cover?signature={cover_signature(model)}"
    return model.cover_image_url or None


def cover_signature(model: Model) -> str:
    return Signer(salt="hearth.model-cover").signature(f"{model.pk}:{model.cover_image.name}")


def shown_example(model: Model) -> Prediction | None:
    """The default example (inference.catalogue), once it has run: what the Model JSON and the
    model page show."""
    example = model.default_example
    if example is None or example.status != Prediction.Status.SUCCEEDED:
        return None
    example.model = model  # a prediction of this very model: no query for it
    return example


def model_json(model: Model, *, origin: str) -> ModelJSON:
    latest = model.latest_version
    example = shown_example(model)
    return {
        "url": f"{origin}/{model.full_name}",
        "owner": model.owner.username,
        "name": model.name,
        "description": model.description or None,
        "visibility": model.visibility,
        "github_url": model.github_url or None,
        "paper_url": model.paper_url or None,
        "license_url": model.license_url or None,
        "cover_image_url": cover_url(model, origin=origin),
        "run_count": model.run_count,
        "hardware": model.hardware.sku,
        # A whole Prediction, as the Python client requires of it (replicate-api.md §5.3). Its
        # output file links are those made when it ran (OUTPUT_URL_SECONDS); the page renews them.
        "default_example": prediction_json(example, origin=origin) if example else None,
        "latest_version": version_json(latest) if latest else None,
        "cache_policy": model.cache_policy,  # type: ignore[typeddict-item]  # the choices' values
        "cache_shared": model.cache_shared,
    }


def file_json(file: File, *, origin: str) -> FileJSON:
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


def collection_json(collection: Collection) -> CollectionJSON:
    return {"name": collection.name, "slug": collection.slug, "description": collection.description}


def collection_detail_json(collection: Collection, models: Iterable[Model], *, origin: str) -> CollectionDetailJSON:
    """`models`: those of the collection the caller may see (`selectors.collection_models`)."""
    return {**collection_json(collection), "models": [model_json(model, origin=origin) for model in models]}


def search_model_json(model: Model, *, score: float, origin: str) -> SearchModelJSON:
    return {
        "model": model_json(model, origin=origin),
        "metadata": {"generated_description": model.description, "score": score, "tags": []},
    }


class DeploymentConfigurationJSON(TypedDict):
    hardware: Annotated[str, Field(examples=["gpu-t4"])]
    min_instances: Annotated[int, Field(description="Instances kept booted, busy or not")]
    max_instances: Annotated[int, Field(description="The most instances that run at once")]


class DeploymentReleaseJSON(TypedDict):
    number: Annotated[int, Field(description="1 for the deployment's first configuration, then one more per update")]
    model: Annotated[str, Field(examples=["alice/echo"])]
    version: str
    created_at: Timestamp | None
    created_by: AccountJSON
    configuration: DeploymentConfigurationJSON


@shape
class DeploymentJSON(TypedDict):
    owner: str
    name: str
    current_release: DeploymentReleaseJSON | None


@shape
class DeploymentPageJSON(TypedDict):
    previous: Url | None
    next: Url | None
    results: list[DeploymentJSON]


def deployment_release_json(release: DeploymentRelease) -> DeploymentReleaseJSON:
    return {
        "number": release.number,
        "model": release.model.full_name,
        "version": release.version.sha256,
        "created_at": timestamp(release.created_at),
        "created_by": account_json(release.created_by),
        "configuration": {
            "hardware": release.hardware.sku,
            "min_instances": release.min_instances,
            "max_instances": release.max_instances,
        },
    }


def deployment_json(deployment: Deployment) -> DeploymentJSON:
    """For deployments loaded by `deployments.selectors` (owner and current release joined)."""
    release = deployment.current_release
    return {
        "owner": deployment.owner.username,
        "name": deployment.name,
        "current_release": deployment_release_json(release) if release is not None else None,
    }
