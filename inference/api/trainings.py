"""/v1 trainings (replicate-api.md §3, §4.2): create one from a version whose cog.yaml has a
`train:` entry point, list, read and cancel them. A training belongs to the account that made
it (anyone else's is a 404), and its destination must be a model of that account's (404 too).

Plain DRF handlers: a training is created once and runs for minutes, so it needs neither the
prediction hot path's async create nor `Prefer: wait`.
"""

from typing import Annotated, Any, Required

from django.conf import settings
from drf_spectacular.utils import extend_schema
from pydantic import Field, WithJsonSchema
from rest_framework.response import Response
from typing_extensions import TypedDict

from accounts.endpoints import AccountEndpoint
from hosting.openapi import AUTHENTICATED_PROBLEMS, PUBLIC_ID_CURSOR_PARAMETER, json_response, problems, ref
from hosting.pagination import cursor_page
from hosting.request_bodies import validated
from hosting.shapes import JsonObject, Text, no_nul_anywhere, shape
from inference import services
from inference.api.deadlines import as_seen_by, parse_cancel_after

# The webhook fields are a prediction's, read and checked by the same code.
from inference.api.prediction_requests import _WEBHOOK, CANCEL_AFTER
from inference.api.predictions import _webhook_fields
from inference.representations import WebhookEvent, base_url, training_json
from inference.trainings import selectors as training_selectors
from inference.trainings import services as training_services


@shape
@no_nul_anywhere
class TrainingRequestJSON(TypedDict, total=False):
    destination: Required[
        Annotated[
            Text,
            Field(
                description='A model of yours as "owner/name", which gets the trained version (else 404; 422 '
                "when it is not owner/name)"
            ),
        ]
    ]
    input: Annotated[JsonObject, Field(description="Checked against the version's TrainingInput schema (else 422)")]
    webhook: Annotated[str | None, WithJsonSchema(_WEBHOOK)]
    webhook_completed: Annotated[
        str | None,
        WithJsonSchema(
            {**_WEBHOOK, "description": "Where to POST the training when it ends, if `webhook` is not given"}
        ),
    ]
    webhook_events_filter: Annotated[
        list[WebhookEvent] | None, Field(description="Which changes to POST; null or absent: all of them")
    ]


def _webhooks(body: dict[str, Any]) -> dict[str, Any]:
    """`webhook` and its filter, checked as a prediction's are; the Python client's
    `webhook_completed` alone means a webhook for `completed` only."""
    completed = body.get("webhook_completed")
    if not body.get("webhook") and completed:
        body = {**body, "webhook": completed, "webhook_events_filter": ["completed"]}
    return _webhook_fields(body)


_TRAINING_RESPONSES = {
    200: json_response("Training"),
    **problems(404, e404="No such training"),
    **AUTHENTICATED_PROBLEMS,
}


class TrainingCreate(AccountEndpoint):
    @extend_schema(
        summary="Train a version: its weights become a new version of the destination",
        description="Runs the version's cog.yaml `train:` entry point on its model's hardware, billed per "
        "second like a prediction and with no run-time limit. On success `output.version` is "
        "`destination:id`, a version that runs the model's predictor with the trained weights.",
        tags=["trainings"],
        parameters=[CANCEL_AFTER],
        request={"application/json": ref("TrainingRequest")},
        responses={
            201: json_response("Training", "Created"),
            **problems(400, 402, 415, 422),
            **problems(404, e404="No such model or version, or no such destination of yours"),
            **problems(409, e409="The model or version has been disabled by the operators"),
            **AUTHENTICATED_PROBLEMS,
        },
    )
    def post(self, request, owner: str, name: str, version_id: str):
        body: dict[str, Any] = dict(validated(TrainingRequestJSON, request.data))
        # No run-time limit by default; Cancel-After sets one, as for a prediction.
        cancel_after_header = request.headers.get("Cancel-After")
        cancel_after = parse_cancel_after(cancel_after_header) if cancel_after_header is not None else None
        version = training_services.trainable_version(
            account=self.account, owner=owner, name=name, version_id=version_id
        )
        training = training_services.training_create(
            account=self.account,
            version=version,
            destination=body["destination"],
            input=body.get("input", {}),
            cancel_after=cancel_after,
            **_webhooks(body),
        )
        return Response(as_seen_by(request, training_json(training, origin=base_url(request))), status=201)


class TrainingCollection(AccountEndpoint):
    @extend_schema(
        summary="List your trainings, newest first",
        tags=["trainings"],
        parameters=[PUBLIC_ID_CURSOR_PARAMETER],
        responses={200: json_response("TrainingPage"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        origin = base_url(request)
        page = cursor_page(
            training_selectors.training_list(account=self.account),
            cursor=request.query_params.get("cursor"),
            page_size=settings.PREDICTIONS_PAGE_SIZE,
            page_url=f"{origin}/v1/trainings",
            render=lambda training: as_seen_by(request, training_json(training, origin=origin)),
        )
        return Response(page)


class TrainingDetail(AccountEndpoint):
    @extend_schema(summary="Get a training", tags=["trainings"], responses=_TRAINING_RESPONSES)
    def get(self, request, training_id: str):
        training = training_selectors.training_get(account=self.account, training_id=training_id)
        return Response(as_seen_by(request, training_json(training, origin=base_url(request))))


class TrainingCancel(AccountEndpoint):
    @extend_schema(summary="Cancel a training", tags=["trainings"], request=None, responses=_TRAINING_RESPONSES)
    def post(self, request, training_id: str):
        training = training_selectors.training_get(account=self.account, training_id=training_id)
        services.prediction_cancel(prediction=training)
        training = training_selectors.training_get(account=self.account, training_id=training_id)
        return Response(as_seen_by(request, training_json(training, origin=base_url(request))))
