"""/v1/deployments: create, list, read, update (a new release) and delete deployments, and run
predictions through one (replicate-api.md §3, §5.6). Deployments belong to their owner alone:
anyone else's is a 404, like a missing one."""

from datetime import timedelta
from typing import Annotated, Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from pydantic import Field
from rest_framework.response import Response
from typing_extensions import TypedDict

from accounts.endpoints import AccountEndpoint
from billing.api import hardware_named, list_hardware_skus
from hosting.openapi import AUTHENTICATED_PROBLEMS, CURSOR, json_response, problems, ref
from hosting.pagination import cursor_page
from hosting.problems import ApiProblem, InvalidRequest
from hosting.request_bodies import validated
from hosting.shapes import WHOLE, no_nul_anywhere, partial_update, shape
from inference.api import predictions
from inference.api.model_versions import MODEL_NAME_PATTERN
from inference.deployments import selectors as deployment_selectors
from inference.deployments import services as deployment_services
from inference.models import Deployment, Prediction
from inference.representations import base_url, deployment_json

# A model as owner/name, and a version id: the SHA-256 of its package.
_MODEL_REF = r"^[-a-zA-Z0-9_]{1,64}/[a-z0-9][a-z0-9._-]{0,99}$"
_VERSION_ID = r"^[0-9a-f]{64}$"
_Hardware = Annotated[str, Field(description="A SKU of GET /v1/hardware", json_schema_extra=list_hardware_skus)]
_Version = Annotated[str, Field(pattern=_VERSION_ID, description="One of the model's version ids (else 422)")]


# The document's maximum is the setting's when the process started.
_MinInstances = Annotated[
    int,
    Field(
        ge=0,
        le=settings.DEPLOYMENT_MAX_INSTANCES,
        description="Instances kept booted; at most max_instances (else 422)",
    ),
    WHOLE,
]
_MaxInstances = Annotated[
    int, Field(ge=1, le=settings.DEPLOYMENT_MAX_INSTANCES, description="The most instances wanted at once"), WHOLE
]


@shape
@no_nul_anywhere
class DeploymentCreateRequestJSON(TypedDict):
    name: Annotated[str, Field(pattern=MODEL_NAME_PATTERN, max_length=100)]
    model: Annotated[str, Field(pattern=_MODEL_REF, description="owner/name: yours, or a public one (else 422)")]
    version: _Version
    hardware: _Hardware
    min_instances: _MinInstances
    max_instances: _MaxInstances


@shape
@partial_update
class DeploymentUpdateRequestJSON(TypedDict, total=False):
    version: _Version
    hardware: _Hardware
    min_instances: _MinInstances
    max_instances: _MaxInstances


def _unprocessable(exc: deployment_services.InvalidDeployment) -> ApiProblem:
    """A body the document allows that names what is not there, or instances out of order."""
    return ApiProblem(
        422,
        "Invalid deployment",
        str(exc),
        invalid_fields=[{"type": "invalid", "field": exc.field, "description": str(exc)}],
    )


_DEPLOYMENT_READ = {**problems(404, e404="No such deployment (or not yours)"), **AUTHENTICATED_PROBLEMS}


class DeploymentCollection(AccountEndpoint):
    @extend_schema(
        summary="List your deployments, newest first",
        tags=["deployments"],
        parameters=[CURSOR],
        responses={200: json_response("DeploymentPage"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        page = cursor_page(
            deployment_selectors.deployment_list(account=self.account),
            cursor=request.query_params.get("cursor"),
            page_size=settings.PREDICTIONS_PAGE_SIZE,
            page_url=f"{base_url(request)}/v1/deployments",
            render=deployment_json,
        )
        return Response(page)

    @extend_schema(
        summary="Create a deployment",
        description="Release 1 runs `version` of `model` on `hardware`, keeping `min_instances` booted "
        "and running at most `max_instances` at once.",
        tags=["deployments"],
        request={"application/json": ref("DeploymentCreateRequest")},
        responses={
            200: json_response("Deployment", "Created"),
            **problems(400, 409, 415, 422, e409="A deployment of that name exists"),
            **AUTHENTICATED_PROBLEMS,
        },
    )
    def post(self, request):
        fields: dict[str, Any] = dict(validated(DeploymentCreateRequestJSON, request.data))
        hardware = hardware_named(fields["hardware"])
        try:
            model = deployment_services.model_to_deploy(account=self.account, model_ref=fields["model"])
            deployment = deployment_services.deployment_create(
                account=self.account,
                name=fields["name"],
                version=deployment_services.version_of(model, fields["version"]),
                hardware=hardware,
                min_instances=fields["min_instances"],
                max_instances=fields["max_instances"],
            )
        except deployment_services.InvalidDeployment as exc:
            raise _unprocessable(exc) from exc
        except deployment_services.DeploymentExists as exc:
            raise ApiProblem(409, "Deployment already exists", str(exc)) from exc
        return Response(deployment_json(_reloaded(deployment)))


def _reloaded(deployment: Deployment) -> Deployment:
    return deployment_selectors.deployment_get(
        account=deployment.owner, owner=deployment.owner.username, name=deployment.name
    )


class DeploymentDetail(AccountEndpoint):
    @extend_schema(
        summary="Get a deployment",
        tags=["deployments"],
        responses={200: json_response("Deployment"), **_DEPLOYMENT_READ},
    )
    def get(self, request, owner: str, name: str):
        deployment = deployment_selectors.deployment_get(account=self.account, owner=owner, name=name)
        return Response(deployment_json(deployment))

    @extend_schema(
        summary="Update a deployment: a new release",
        description="The fields sent replace those of the current release; the others are kept.",
        tags=["deployments"],
        request={"application/json": ref("DeploymentUpdateRequest")},
        responses={200: json_response("Deployment"), **problems(400, 415, 422), **_DEPLOYMENT_READ},
    )
    def patch(self, request, owner: str, name: str):
        changes: dict[str, Any] = dict(validated(DeploymentUpdateRequestJSON, request.data))
        if not changes:
            raise InvalidRequest(
                "Send at least one of version, hardware, min_instances and max_instances.", field="body"
            )
        if "hardware" in changes:
            changes["hardware"] = hardware_named(changes["hardware"])
        try:
            with transaction.atomic():
                deployment = deployment_selectors.deployment_get(
                    account=self.account, owner=owner, name=name, for_update=True
                )
                if "version" in changes:
                    assert deployment.current_release is not None  # made with release 1
                    changes["version"] = deployment_services.version_of(
                        deployment.current_release.model, changes["version"]
                    )
                deployment_services.deployment_release(deployment=deployment, created_by=self.account, **changes)
        except deployment_services.InvalidDeployment as exc:
            raise _unprocessable(exc) from exc
        return Response(deployment_json(_reloaded(deployment)))

    @extend_schema(
        summary="Delete a deployment",
        description="Its predictions are kept; its instances stop.",
        tags=["deployments"],
        responses={204: None, **_DEPLOYMENT_READ},
    )
    def delete(self, request, owner: str, name: str):
        deployment = deployment_selectors.deployment_get(account=self.account, owner=owner, name=name)
        deployment_services.deployment_delete(deployment=deployment)
        return Response(status=204)


def _create_for_deployment(
    account, body: dict[str, Any], cancel_after: timedelta | None, owner: str, name: str, *, use_cache: bool
) -> Prediction:
    deployment = deployment_selectors.deployment_get(account=account, owner=owner, name=name)
    release = deployment.current_release
    assert release is not None  # made with release 1
    version = release.version
    version.model = release.model
    return predictions.create_prediction(
        account, version, body, cancel_after, deployment=deployment, use_cache=use_cache
    )


class DeploymentPredictionCollection(AccountEndpoint):
    @predictions.create_schema(
        "Create a prediction through a deployment (its current release)", e404="No such deployment (or not yours)"
    )
    async def post(self, request: HttpRequest, owner: str, name: str) -> HttpResponse:
        return await predictions.respond(self, request, _create_for_deployment, owner, name)
