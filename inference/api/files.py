"""/v1/files (replicate-api.md §4.4, §5.4): upload, read, list and delete files, and the
capability URL that serves a file's bytes."""

import json
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.endpoints import AccountEndpoint
from hosting.api import Endpoint
from hosting.openapi import AUTHENTICATED_PROBLEMS, PUBLIC_ID_CURSOR_PARAMETER, json_response, problems
from hosting.pagination import cursor_page
from hosting.problems import ApiProblem, InvalidRequest, NotFound
from hosting.request_bodies import refuse_unstorable_strings
from hosting.shapes import JSON_OBJECT
from inference import selectors
from inference.files import storage
from inference.representations import base_url, file_json

METADATA_MAX_BYTES = 1024 * 1024
# Multipart boundaries and part headers around the file, allowed on top of FILE_MAX_BYTES
# when judging a request by its Content-Length alone.
_MULTIPART_OVERHEAD = 64 * 1024


def too_large() -> ApiProblem:
    limit = storage.size_text(settings.FILE_MAX_BYTES)
    return ApiProblem(413, "File too large", f"Files must be less than {limit} in size")


class _SizeLimit(FileUploadHandler):
    """First in the chain of upload handlers: stops the upload once it passes FILE_MAX_BYTES."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.FILE_MAX_BYTES:
            raise too_large()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _form(request) -> tuple[Any, Any]:
    """The parsed multipart form; every way it can be malformed becomes a 4xx problem."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > (
        settings.FILE_MAX_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE + _MULTIPART_OVERHEAD
    ):
        raise too_large()
    try:
        return request.POST, request.FILES  # request.data would mix the file parts into the fields
    except UnsupportedMediaType as exc:
        raise ApiProblem(
            415,
            "Unsupported media type",
            "Send the file as multipart/form-data.",
            invalid_fields=[{"type": "parse", "field": "body", "description": str(exc.detail)}],
        ) from exc
    except RequestDataTooBig as exc:
        raise ApiProblem(413, "Request too large", "The form fields are too large.") from exc
    except (SuspiciousOperation, ValueError, LookupError) as exc:  # e.g. too many parts, a bad charset
        raise InvalidRequest(f"The multipart body is malformed: {exc}", field="body", kind="parse") from exc


def _metadata(data, uploaded) -> dict:
    """`metadata` as a text field (Python client) or as a file part (JS client), a JSON object."""
    texts, parts = data.getlist("metadata"), uploaded.getlist("metadata")
    if len(texts) + len(parts) > 1:
        raise InvalidRequest("Send metadata once.", field="metadata")
    text = texts[0] if texts else None
    if parts:
        if parts[0].size > METADATA_MAX_BYTES:
            raise InvalidRequest("metadata is too large.", field="metadata")
        text = parts[0].read().decode("utf-8", errors="replace")
    if text is None:  # "" is no JSON object, and no client sends it for none
        return {}
    if len(text) > METADATA_MAX_BYTES:
        raise InvalidRequest("metadata is too large.", field="metadata")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidRequest(f"metadata is not valid JSON: {exc}", field="metadata", kind="parse") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("metadata must be a JSON object.", field="metadata", kind="type")
    refuse_unstorable_strings(value, field="metadata")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# `metadata` arrives as a text field (Python client) or a file part (JS client) holding JSON text.
_UPLOAD_BODY = {
    "multipart/form-data": OpenApiRequest(
        {
            "type": "object",
            "required": ["content"],
            "properties": {
                "content": {"type": "string", "format": "binary", "description": "The file"},
                "metadata": {**JSON_OBJECT, "description": "Yours to keep with the file: a JSON object"},
                "filename": {"type": "string", "description": "The file's name; else the content part's filename"},
                "type": {
                    "type": "string",
                    "description": "Its content type; else the part's, or a guess from the name",
                },
            },
        },
        encoding={"metadata": {"contentType": "application/json"}},
    )
}


class FileCollection(AccountEndpoint):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args, **kwargs):
        # Before DRF wraps the request: the upload handlers must be in place before parsing.
        request.upload_handlers = [
            _SizeLimit(request),
            MemoryFileUploadHandler(request),
            TemporaryFileUploadHandler(request),
        ]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        summary="List your uploaded files, newest first",
        tags=["files"],
        parameters=[PUBLIC_ID_CURSOR_PARAMETER],
        responses={200: json_response("FilePage"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        origin = base_url(request)
        page = cursor_page(
            selectors.file_list(account=self.account),
            cursor=request.query_params.get("cursor"),
            page_size=settings.PREDICTIONS_PAGE_SIZE,
            page_url=f"{origin}/v1/files",
            render=lambda file: file_json(file, origin=origin),
        )
        return Response(page)

    @extend_schema(
        summary="Upload a file to use as a prediction input",
        tags=["files"],
        request=_UPLOAD_BODY,
        responses={
            201: json_response("File", "Created"),
            **problems(400, 413, 415, e413="Larger than FILE_MAX_BYTES"),
            **AUTHENTICATED_PROBLEMS,
        },
    )
    def post(self, request):
        data, uploaded = _form(request)
        parts = uploaded.getlist("content")
        if len(parts) != 1:
            raise InvalidRequest(
                "Send the file as exactly one multipart file part named content.", field="content", kind="required"
            )
        part = parts[0]
        name = storage.safe_filename(data.get("filename") or part.name, fallback="file")
        file = storage.upload_create(
            account=self.account,
            content=part,
            name=name,
            content_type=storage.content_type_for(name, data.get("type") or part.content_type),
            metadata=_metadata(data, uploaded),
        )
        return Response(file_json(file, origin=base_url(request)), status=201)


class FileDetail(AccountEndpoint):
    @extend_schema(
        summary="Get a file",
        tags=["files"],
        responses={200: json_response("File"), **problems(404), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request, file_id: str):
        file = selectors.file_get(account=self.account, file_id=file_id)
        return Response(file_json(file, origin=base_url(request)))

    @extend_schema(
        summary="Delete a file",
        tags=["files"],
        responses={204: OpenApiResponse(description="Deleted"), **problems(404), **AUTHENTICATED_PROBLEMS},
    )
    def delete(self, request, file_id: str):
        storage.file_delete(file=selectors.file_get(account=self.account, file_id=file_id))
        return Response(status=204)


class FileDownload(Endpoint):
    """A capability URL: the bytes, to anyone holding the URL (a token, if sent, is ignored).
    Served sandboxed, so an HTML or SVG file cannot script against this origin. `filename` is
    for clients; the signature covers the id and expiry."""

    authentication_classes = []  # the signature is the credential

    @extend_schema(
        summary="The bytes of a file (a signed capability URL, as in output `urls`)",
        tags=["files"],
        parameters=[
            OpenApiParameter("expiry", int, required=True),
            OpenApiParameter("signature", str, required=True),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                response={"type": "string", "format": "binary"}, description="The file's bytes, with its content type"
            ),
            **problems(404, e404="Not found, expired or a bad signature"),
        },
    )
    async def get(self, request: HttpRequest, file_id: str, filename: str) -> HttpResponseBase:
        file = await sync_to_async(storage.file_for_download)(
            file_id=file_id, expiry=request.GET.get("expiry"), signature=request.GET.get("signature")
        )
        if file is None:
            raise NotFound("File not found (or the link has expired)")
        try:
            handle = await sync_to_async(file.content.open)("rb")
        except OSError:  # deleted from storage a moment ago
            raise NotFound("File not found (or the link has expired)") from None
        body = _chunks(handle) if request.method == "GET" else _closing(handle)
        response = StreamingHttpResponse(body, content_type=file.content_type)
        response["Content-Length"] = str(file.size)
        response["Content-Disposition"] = content_disposition_header(False, file.name) or "inline"
        response["ETag"] = f'"{file.md5}"'
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response

    head = get


async def _chunks(handle):
    try:
        while chunk := await sync_to_async(handle.read)(storage.CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(handle.close)()


async def _closing(handle):
    await sync_to_async(handle.close)()
    return
    yield  # an async generator with no items: HEAD has no body
