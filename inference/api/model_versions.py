"""/v1/models and their versions: list, search and create models, read one, upload versions (what
`hearth push` uses) and read them."""

import asyncio
import json
import logging
import queue
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, connection
from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from pydantic import Field
from rest_framework.response import Response
from typing_extensions import TypedDict

from accounts.endpoints import AccountEndpoint
from accounts.models import Account
from billing.api import hardware_named, list_hardware_skus
from hosting.openapi import AUTHENTICATED_PROBLEMS, CURSOR, json_response, problems, ref
from hosting.pagination import cursor_page
from hosting.problems import ApiProblem, InvalidRequest, NotFound, internal_error, problem_body
from hosting.request_bodies import validated
from hosting.shapes import NO_NUL, Text, no_nul_anywhere, partial_update, shape
from inference import selectors
from inference.models import Model
from inference.registry import push
from inference.registry.packaging import PackageError
from inference.representations import base_url, model_json, version_json

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# A search is a few words, and each word is one more filter in the SQL: longer text is refused.
SEARCH_MAX_CHARS = 200
# What a search text is stripped of: the spaces that `[^ \t\n\r\f\v]` means in every regular
# expression dialect alike (str.strip() would also strip U+001C and others that JSON Schema's do not).
SPACES = " \t\n\r\f\v"


# Account names (accounts.models.Account.username, a slug) and model names.
OWNER_PATTERN = r"^[-a-zA-Z0-9_]{1,64}$"
MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
# An http(s) URL in printable ASCII (a non-ASCII host as punycode), or "" for none: what the
# model's URLFields hold (at most 200 characters) and its pages link to.
URL_PATTERN = r"^(?:https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?)?$"
_URL = Annotated[str, Field(pattern=URL_PATTERN, max_length=200, description="An http(s) URL, or empty for none")]


_OpenAIApi = Annotated[
    Literal["", "chat", "embeddings"],
    Field(description="Serve it on the OpenAI-compatible API (/openai/v1) as a chat or embeddings model"),
]
_CachePolicy = Annotated[
    Literal["off", "seeded", "deterministic"],
    Field(
        description="When an output may answer the same input again for callers that send `Prefer: cache`: never "
        "(off, the default), when the caller sets the `seed` input (seeded), or always (deterministic)"
    ),
]
_CacheShared = Annotated[
    bool, Field(description="A public model's cached outputs answer every account, not only the one that asked")
]


@shape
@no_nul_anywhere
class ModelCreateRequestJSON(TypedDict):
    owner: Annotated[str, Field(pattern=OWNER_PATTERN, description="Your own account's name; another is a 403")]
    name: Annotated[str, Field(pattern=MODEL_NAME_PATTERN, max_length=100)]
    visibility: Literal["public", "private"]
    hardware: Annotated[str, Field(description="A SKU of GET /v1/hardware", json_schema_extra=list_hardware_skus)]
    description: NotRequired[Text]
    github_url: NotRequired[_URL]
    paper_url: NotRequired[_URL]
    license_url: NotRequired[_URL]
    cover_image_url: NotRequired[_URL]
    openai_api: NotRequired[_OpenAIApi]
    cache_policy: NotRequired[_CachePolicy]
    cache_shared: NotRequired[_CacheShared]


@shape
@partial_update
class ModelUpdateRequestJSON(TypedDict, total=False):
    """PATCH /v1/models/{owner}/{name}: the official spec's fields, and Hearth's own settings
    (the OpenAI-compatible API, the prediction cache)."""

    description: Text
    readme: Text
    github_url: _URL
    paper_url: _URL
    license_url: _URL
    cover_image_url: _URL
    openai_api: _OpenAIApi
    cache_policy: _CachePolicy
    cache_shared: _CacheShared


def _too_large() -> ApiProblem:
    limit_mb = settings.MAX_PACKAGE_BYTES // (1024 * 1024)
    return ApiProblem(413, "Package too large", f"Model packages must be less than {limit_mb} MB.")


def receive_upload(stream, destination: Path) -> None:
    """Copy the request body to a file in chunks, refusing it past MAX_PACKAGE_BYTES."""
    received = 0
    with destination.open("wb") as file:
        while stream is not None and (chunk := stream.read(_CHUNK)):
            received += len(chunk)
            if received > settings.MAX_PACKAGE_BYTES:
                raise _too_large()
            file.write(chunk)
    if received == 0:
        raise ApiProblem(
            400,
            "Empty upload",
            "Send the package as a .tar.gz request body.",
            invalid_fields=[{"type": "required", "field": "body", "description": "no package"}],
        )


def _search_text(request) -> str:
    """The body of `QUERY /v1/models`: the search text, sent as text/plain (replicate-api.md §2).

    The JS client (`replicate` 1.4.0) JSON-encodes it (`"echo"`, quotes included) though it labels
    it text/plain, so a body that is one JSON string stands for the string it encodes."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    try:
        text = raw.decode() if raw is not None else None
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The search text is not UTF-8.", field="body", kind="parse") from exc
    if text is not None and len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, str):
            text = decoded
    if text is None:
        raise InvalidRequest(f"The search text is longer than {SEARCH_MAX_CHARS} characters.", field="body")
    return checked_search_text(text, field="body")


def checked_search_text(text: str, *, field: str) -> str:
    """Search text as SEARCH_PARAMETER documents it, stripped; refused with a 400 naming `field`.
    The length counts before stripping, as the document's maxLength does."""
    if len(text) > SEARCH_MAX_CHARS:
        raise InvalidRequest(f"The search text is longer than {SEARCH_MAX_CHARS} characters.", field=field)
    if "\x00" in text:  # PostgreSQL cannot compare with a NUL character
        raise InvalidRequest("The search text must not contain NUL characters.", field=field)
    return text.strip(SPACES)


def _model_page(request, account: Account, query: str) -> dict[str, Any]:
    """A ModelPage of what `account` may see matching `query`; `next` keeps the search."""
    origin = base_url(request)
    page_url = f"{origin}/v1/models" + (f"?{urlencode({'query': query})}" if query else "")
    return cursor_page(
        selectors.model_list(account=account, query=query),
        cursor=request.query_params.get("cursor"),
        page_size=settings.PREDICTIONS_PAGE_SIZE,
        page_url=page_url,
        render=lambda model: model_json(model, origin=origin),
    )


_SEARCH = OpenApiParameter(
    "query",
    {"type": "string", "maxLength": SEARCH_MAX_CHARS, "pattern": NO_NUL},
    description="Only models whose owner/name holds every word (`owner/name` words match each half)",
)


class ModelCollection(AccountEndpoint):
    # QUERY is the clients' `models.search(text)`: a non-standard HTTP method (replicate-api.md §12.2, 14).
    http_method_names = [*AccountEndpoint.http_method_names, "query"]

    @property
    def allowed_methods(self) -> list[str]:
        # drf-spectacular documents each allowed method and OpenAPI 3.1 has no QUERY operation, so
        # QUERY is served (DRF dispatches by `http_method_names`) but not listed; GET's description says it.
        return [method for method in super().allowed_methods if method != "QUERY"]

    @extend_schema(
        summary="List the models you may see (public ones and your own), newest first",
        description="The clients' `models.search(text)` sends `QUERY /v1/models` with the search text as a "
        "`text/plain` body and gets the same page, as if it had been sent as `query`. (OpenAPI 3.1 has no "
        "QUERY operation to describe it.) Pages hold `PREDICTIONS_PAGE_SIZE` models.",
        tags=["models"],
        parameters=[CURSOR, _SEARCH],
        responses={200: json_response("ModelPage"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        query = checked_search_text(request.query_params.get("query", ""), field="query")
        return Response(_model_page(request, self.account, query))

    def query(self, request):
        return Response(_model_page(request, self.account, _search_text(request)))

    @extend_schema(
        summary="Create a model",
        tags=["models"],
        request={"application/json": ref("ModelCreateRequest")},
        responses={
            201: json_response("Model", "Created"),
            **problems(400, 403, 409, 413, 415, e403="Not your account", e409="A model of that name exists"),
            **AUTHENTICATED_PROBLEMS,
        },
    )
    def post(self, request):
        fields: dict[str, Any] = dict(validated(ModelCreateRequestJSON, request.data))
        hardware = hardware_named(fields.pop("hardware"))
        if fields.pop("owner") != self.account.username:
            raise ApiProblem(403, "Forbidden", "You can only create models in your own account.")
        try:
            model = push.model_create(owner=self.account, hardware=hardware, **fields)
        except IntegrityError as exc:
            raise ApiProblem(409, "Model already exists", f"{self.account.username}/{fields['name']} exists.") from exc
        model.owner = self.account
        return Response(model_json(model, origin=base_url(request)), status=201)


def version_upload(request, account: Account, owner: str, name: str) -> HttpResponseBase:
    """POST /v1/models/{owner}/{name}/versions with a .tar.gz package body: a new version.

    With `Accept: application/x-ndjson` (what `hearth push` sends) the answer streams the
    resolver's and installer's output as it happens, one JSON object a line, ending with the
    version or a problem: a first build of an environment takes a while."""
    model = selectors.model_get(account=account, owner=owner, name=name)
    if model.owner_id != account.pk:  # a public model of someone else: not theirs to push to
        raise NotFound("The requested model does not exist (or you don't have permission to see it).")
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > settings.MAX_PACKAGE_BYTES:
        raise _too_large()
    scratch = Path(tempfile.mkdtemp(prefix="hearth-upload-"))
    archive = scratch / "package.tar.gz"
    try:
        receive_upload(request.stream, archive)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if "application/x-ndjson" in request.META.get("HTTP_ACCEPT", ""):
        return StreamingHttpResponse(_build_stream(model, scratch, archive), content_type="application/x-ndjson")
    try:
        version = push.version_push_archive(model=model, archive=archive)
    except PackageError as exc:
        raise _invalid_package(exc) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Response(version_json(version), status=201)


def _invalid_package(exc: PackageError) -> ApiProblem:
    return ApiProblem(
        422,
        "Invalid model package",
        str(exc),
        invalid_fields=[{"type": "package", "field": exc.field or "body", "description": str(exc)}],
    )


async def _build_stream(model: Model, scratch: Path, archive: Path) -> AsyncIterator[bytes]:
    """The push in a thread of its own, its log lines relayed as they come."""
    lines: queue.SimpleQueue[dict | None] = queue.SimpleQueue()

    def build() -> None:
        try:
            version = push.version_push_archive(model=model, archive=archive, log=lambda text: lines.put({"log": text}))
            lines.put({"version": version_json(version)})
        except PackageError as exc:
            lines.put({"problem": problem_body(_invalid_package(exc))})
        except Exception:
            logger.exception("pushing a version of %s failed", model)
            lines.put({"problem": problem_body(internal_error())})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            connection.close()
            lines.put(None)

    threading.Thread(target=build, name=f"push-{model.pk}", daemon=True).start()
    while (item := await asyncio.to_thread(lines.get)) is not None:
        yield json.dumps(item).encode() + b"\n"


_MODEL_READ = {**problems(404), **AUTHENTICATED_PROBLEMS}


class ModelDetail(AccountEndpoint):
    @extend_schema(summary="Get a model", tags=["models"], responses={200: json_response("Model"), **_MODEL_READ})
    def get(self, request, owner: str, name: str):
        model = selectors.model_get(account=self.account, owner=owner, name=name)
        return Response(model_json(model, origin=base_url(request)))

    @extend_schema(
        summary="Update your model's details and cache settings",
        tags=["models"],
        request={"application/json": ref("ModelUpdateRequest")},
        responses={200: json_response("Model"), **problems(400, 415), **_MODEL_READ},
    )
    def patch(self, request, owner: str, name: str):
        changes = dict(validated(ModelUpdateRequestJSON, request.data))
        if not changes:
            raise InvalidRequest("Send at least one field to change.", field="body")
        model = selectors.model_get(account=self.account, owner=owner, name=name)
        if model.owner_id != self.account.pk:
            raise NotFound("The requested model does not exist (or you don't have permission to see it).")
        model = push.model_update(model=model, **changes)
        return Response(model_json(model, origin=base_url(request)))

    @extend_schema(
        summary="Delete a model: your own, private, with no versions",
        tags=["models"],
        responses={204: None, **problems(404, 409, e409="Public, or has versions"), **AUTHENTICATED_PROBLEMS},
    )
    def delete(self, request, owner: str, name: str):
        model = selectors.model_get(account=self.account, owner=owner, name=name)
        if model.owner_id != self.account.pk:
            raise NotFound("The requested model does not exist (or you don't have permission to see it).")
        try:
            push.model_delete(model=model)
        except push.ModelInUse as exc:
            raise ApiProblem(409, "Model cannot be deleted", str(exc)) from exc
        return Response(status=204)


# The package, whatever the request calls its type (`hearth push` says application/gzip).
_PACKAGE = {"type": "string", "format": "binary", "minLength": 1, "description": "A .tar.gz of a Cog directory"}


class VersionCollection(AccountEndpoint):
    # The upload is a raw .tar.gz body, read from request.stream; no parser touches it.
    parser_classes = []

    @extend_schema(
        summary="Push a version: the body is a .tar.gz of a Cog directory",
        tags=["models"],
        request={"application/gzip": _PACKAGE, "application/octet-stream": _PACKAGE},
        responses={
            (201, "application/json"): json_response("Version", "Created"),
            (200, "application/x-ndjson"): OpenApiResponse(
                {"type": "string"},
                description="With `Accept: application/x-ndjson`: the build as it happens, one JSON object a line "
                '(`{"log": ...}`), ending with `{"version": Version}` or `{"problem": Problem}`',
            ),
            **problems(
                400,
                404,
                413,
                422,
                e400="An empty body",
                e404="Not your model",
                e413="Larger than MAX_PACKAGE_BYTES",
                e422="Not a valid Cog package",
            ),
            **AUTHENTICATED_PROBLEMS,
        },
    )
    def post(self, request, owner: str, name: str):
        return version_upload(request, self.account, owner, name)

    @extend_schema(
        summary="List a model's versions, newest first",
        tags=["models"],
        responses={200: json_response("VersionPage"), **_MODEL_READ},
    )
    def get(self, request, owner: str, name: str):
        model = selectors.model_get(account=self.account, owner=owner, name=name)
        versions = [version_json(v) for v in selectors.version_list(model=model)]
        return Response({"previous": None, "next": None, "results": versions})


class VersionDetail(AccountEndpoint):
    @extend_schema(summary="Get a version", tags=["models"], responses={200: json_response("Version"), **_MODEL_READ})
    def get(self, request, owner: str, name: str, version_id: str):
        model = selectors.model_get(account=self.account, owner=owner, name=name)
        return Response(version_json(selectors.version_get(model=model, version_id=version_id)))
