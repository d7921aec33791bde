"""/v1/predictions: create (the hot path, ARCHITECTURE §4), list, read and cancel.

Creation is a plain async Django view rather than DRF: with `Prefer: wait` the request awaits the
prediction's `done` event on its Redis stream, so a waiting request holds no thread and
nothing polls the database.
"""

import json
import logging
import math
import re
import time
from datetime import timedelta
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.endpoints import AccountEndpoint
from hosting import database, ratelimit
from hosting.openapi import (
    AUTHENTICATED_PROBLEMS,
    OPTIONAL_BODY,
    PUBLIC_ID_CURSOR_PARAMETER,
    Responses,
    json_response,
    problems,
    ref,
)
from hosting.pagination import cursor_page
from hosting.problems import ApiProblem, InvalidRequest
from hosting.request_bodies import refuse_unstorable_strings
from inference import events, selectors, services, webhooks
from inference.api.deadlines import as_seen_by, parse_cancel_after
from inference.api.prediction_requests import CANCEL_AFTER, PREFER
from inference.files import storage
from inference.models import Model, Prediction, Version
from inference.representations import base_url, prediction_json

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
_PREFER_WAIT = re.compile(r"^\s*wait(?:\s*=\s*(\d+))?\s*$")


def wait_seconds(prefer: str | None) -> int | None:
    """Seconds asked for by `Prefer: wait[=n]`, clamped to 1..60; None if no wait was asked for."""
    for preference in (prefer or "").split(","):
        match = _PREFER_WAIT.match(preference)
        if match:
            if match.group(1) is None:
                return MAX_WAIT_SECONDS
            digits = match.group(1).lstrip("0")
            if not digits:
                return None  # wait=0
            # int() refuses texts of over 4300 digits; anything past 9 is clamped anyway.
            return min(int(digits) if len(digits) <= 9 else MAX_WAIT_SECONDS, MAX_WAIT_SECONDS)
    return None


def prefers_cache(prefer: str | None) -> bool:
    """Whether `Prefer` holds `cache`: an output cached for the same input may answer."""
    return any(preference.strip().lower() == "cache" for preference in (prefer or "").split(","))


def request_json(request: HttpRequest) -> dict[str, Any]:
    """A create request's JSON object body, or the 400/413 problem that says what is wrong with it
    (also the body parser of the OpenAI-compatible endpoints, inference/openai_compat)."""
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        limit = storage.size_text(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        raise ApiProblem(
            413, "Request too large", f"The request body is over {limit}; upload large files with POST /v1/files."
        ) from exc
    except ValueError as exc:  # a Content-Length that is not a number
        raise InvalidRequest("The Content-Length header is not a number.", field="Content-Length") from exc
    try:
        # UTF-8 only (RFC 8259 §8.1): json.loads would also take UTF-16 and UTF-32 bytes.
        text = raw.decode("utf-8-sig") or "{}"
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NumberOutOfRange as exc:
        raise InvalidRequest(f"The request body has a number out of range: {exc}", field="body") from exc
    except RecursionError as exc:
        raise InvalidRequest("The request body is nested too deeply.", field="body", kind="parse") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of over 4300 digits
        raise InvalidRequest(f"The request body is not valid JSON: {exc}", field="body", kind="parse") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", field="body", kind="type")
    # Only a \u escape can put a NUL or a lone surrogate in a string, so most bodies skip the walk.
    if _MAYBE_UNSTORABLE.search(raw):
        refuse_unstorable_strings(body)
    return body


# \u0000, or the escape of a UTF-16 surrogate (D800-DFFF), anywhere in the raw body.
_MAYBE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class _NumberOutOfRange(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    """Python's json reads Infinity, -Infinity and NaN, which JSON does not have; the input
    validator would then call the value "not a number" (of JSON type number)."""
    raise ValueError(f"{name} is not a JSON number (JSON has no Infinity or NaN)")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: valid JSON, but no float holds it
        raise _NumberOutOfRange(f"{text} is larger than any number a model can take (about 1.8e308)")
    return number


def _webhook_fields(body: dict[str, Any]) -> dict[str, Any]:
    # Absent, null and "" all mean none (PredictionRequest); any other value that is not a URL
    # string is refused rather than taken for none.
    webhook = body.get("webhook")
    if webhook is None:
        webhook = ""
    if not isinstance(webhook, str):
        raise InvalidRequest("webhook must be a URL string.", field="webhook", kind="type")
    if webhook:
        webhooks.validate_webhook_url(webhook)  # resolves the host: runs in the worker thread
    events_filter = body.get("webhook_events_filter")
    if events_filter is None:
        events_filter = []
    if not isinstance(events_filter, list) or not all(
        isinstance(event, str) and event in webhooks.EVENTS for event in events_filter
    ):
        raise InvalidRequest(
            f"webhook_events_filter must be a list of {', '.join(webhooks.EVENTS)}.",
            field="webhook_events_filter",
        )
    return {"webhook": webhook, "webhook_events_filter": events_filter}


def _refuse_a_stream_that_is_not_a_boolean(body: dict[str, Any]) -> None:
    # Ignored (iterator models always stream), but held to its documented type all the same.
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream must be true or false.", field="stream", kind="type")


def create_prediction(
    account,
    version: Version,
    body: dict[str, Any],
    cancel_after: timedelta | None,
    *,
    deployment=None,
    use_cache: bool = False,
) -> Prediction:
    """A prediction of `version` from a create request's body (its input and webhook fields)."""
    _refuse_a_stream_that_is_not_a_boolean(body)
    return services.prediction_create(
        account=account,
        version=version,
        input=body.get("input", {}),
        cancel_after=cancel_after,
        deployment=deployment,
        use_cache=use_cache,
        **_webhook_fields(body),
    )


def _version_from_body(account, body: dict[str, Any]) -> Version:
    version_id, model_ref = body.get("version"), None
    if isinstance(version_id, str) and ":" in version_id:  # also accepted: "owner/name:id"
        model_ref, _, version_id = version_id.rpartition(":")
    version = None
    if isinstance(version_id, str):
        version = selectors.version_get_by_id(account=account, version_id=version_id, model_ref=model_ref)
    if version is None:
        raise ApiProblem(
            422,
            "Invalid version or not permitted",
            "The specified version does not exist (or perhaps you don't have permission to use it?)",
            invalid_fields=[{"type": "invalid", "field": "version", "description": "unknown version"}],
        )
    return version


def _latest_version(account, owner: str, name: str) -> Version:
    model: Model = selectors.model_to_run(account=account, owner=owner, name=name)
    if model.latest_version is None:
        raise ApiProblem(422, "Model has no versions", f"{model.full_name} has no version to run yet.")
    version = model.latest_version
    version.model = model
    return version


def _create_for_version_in_body(account, body, cancel_after, *, use_cache):
    return create_prediction(account, _version_from_body(account, body), body, cancel_after, use_cache=use_cache)


def _create_for_model(account, body, cancel_after, owner, name, *, use_cache):
    return create_prediction(account, _latest_version(account, owner, name), body, cancel_after, use_cache=use_cache)


async def respond(endpoint: AccountEndpoint, request: HttpRequest, create, *args) -> HttpResponse:
    """A create request answered: `create(account, body, cancel_after, *args, use_cache=…)`
    makes the prediction; with `Prefer: wait` the answer waits for it to finish, and with
    `Prefer: cache` an output cached for the same input may answer it at once."""
    # The wait counts from the request's arrival: the client reads for at most 60.5 s, so a
    # slow create (a busy database, a file input's DNS look-up) must come out of the 60 s.
    arrived = time.monotonic()
    await ratelimit.acheck(ratelimit.CREATE, endpoint.token_id)
    body = request_json(request)
    cancel_after_header = request.headers.get("Cancel-After")
    # Present but empty is no duration either (CANCEL_AFTER's pattern): refused, not ignored.
    cancel_after = parse_cancel_after(cancel_after_header) if cancel_after_header is not None else None
    prefer = request.headers.get("Prefer")
    wait, use_cache = wait_seconds(prefer), prefers_cache(prefer)
    prediction = await sync_to_async(create)(endpoint.account, body, cancel_after, *args, use_cache=use_cache)
    document = prediction_json(prediction, origin=base_url(request))
    response_headers = {}
    applied = [f"wait={wait}"] if wait else []
    if prediction.cached_from_id is not None:
        applied.append("cache")
    if applied:
        response_headers["Preference-Applied"] = ", ".join(applied)
    if wait and not prediction.is_terminal:
        await database.give_back_connection()  # the wait needs none, and may last a minute
        try:
            final_state = await events.wait_for_done(prediction.id, max(0.0, wait - (time.monotonic() - arrived)))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            # The prediction exists and will run: answer it as it stands; the client polls.
            logger.warning("the wait for %s broke (%r); answering without it", prediction.id, exc)
            final_state = None
        if final_state is not None:
            document.update(final_state)  # type: ignore[typeddict-item]  # the `done` event's state
    # The Python client takes any status but `starting` as final (replicate-api.md §7).
    if document["status"] not in Prediction.TERMINAL_STATUSES:
        document["status"] = Prediction.Status.STARTING
    return JsonResponse(as_seen_by(request, document), status=201, headers=response_headers)


def _create_responses(e404: str) -> Responses:
    return {
        201: json_response("Prediction", "Created (with its output when `Prefer: wait` saw it finish)"),
        **problems(400, 402, 404, 413, 422, e404=e404),
        **problems(409, e409="The model or version has been disabled by the operators"),
        **AUTHENTICATED_PROBLEMS,
    }


def create_schema(
    summary: str, *, e404: str = "No such model (or not yours to run)", request: str = "ModelPredictionRequest"
) -> Any:
    """The document of a create operation; `request` names its body's shape
    (`inference.api.prediction_requests`): the version in the body, or in the path, where an
    empty body is an empty input."""
    return extend_schema(
        summary=summary,
        tags=["predictions"],
        request={"application/json": ref(request)},
        parameters=[PREFER, CANCEL_AFTER],
        responses=_create_responses(e404),
        extensions={OPTIONAL_BODY: request == "ModelPredictionRequest"},
    )


_PREDICTION_RESPONSES: Responses = {200: json_response("Prediction"), **problems(404), **AUTHENTICATED_PROBLEMS}


class PredictionCollection(AccountEndpoint):
    """/v1/predictions: create on the async hot path, list through DRF."""

    @extend_schema(
        summary="List your predictions, newest first",
        tags=["predictions"],
        parameters=[PUBLIC_ID_CURSOR_PARAMETER],
        responses={200: json_response("PredictionPage"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        origin = base_url(request)
        page = cursor_page(
            selectors.prediction_list(account=self.account),
            cursor=request.query_params.get("cursor"),
            page_size=settings.PREDICTIONS_PAGE_SIZE,
            page_url=f"{origin}/v1/predictions",
            render=lambda prediction: as_seen_by(request, prediction_json(prediction, origin=origin)),
        )
        return Response(page)

    @create_schema("Create a prediction of a version", request="PredictionRequest")
    async def post(self, request: HttpRequest) -> HttpResponse:
        return await respond(self, request, _create_for_version_in_body)


class ModelPredictionCollection(AccountEndpoint):
    @create_schema("Create a prediction of a model's latest version")
    async def post(self, request: HttpRequest, owner: str, name: str) -> HttpResponse:
        return await respond(self, request, _create_for_model, owner, name)


class PredictionDetail(AccountEndpoint):
    @extend_schema(summary="Get a prediction", tags=["predictions"], responses=_PREDICTION_RESPONSES)
    def get(self, request, prediction_id: str):
        prediction = selectors.prediction_get(account=self.account, prediction_id=prediction_id)
        return Response(as_seen_by(request, prediction_json(prediction, origin=base_url(request))))


class PredictionCancel(AccountEndpoint):
    @extend_schema(summary="Cancel a prediction", tags=["predictions"], request=None, responses=_PREDICTION_RESPONSES)
    def post(self, request, prediction_id: str):
        prediction = selectors.prediction_get(account=self.account, prediction_id=prediction_id)
        prediction = services.prediction_cancel(prediction=prediction)
        return Response(as_seen_by(request, prediction_json(prediction, origin=base_url(request))))
