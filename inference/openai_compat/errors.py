"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, with the statuses the
`openai` clients turn into their exceptions (400 BadRequestError, 401 AuthenticationError,
404 NotFoundError, 429 RateLimitError, 5xx InternalServerError, ...).

The prediction services refuse with `ApiProblem`s (hosting/problems.py), which the endpoint base
renders as problem+json; `in_openai_shape` renders each such answer again in OpenAI's shape, so
there stays one way to refuse. `OpenAIError` is a problem that says its OpenAI type and code.
"""

import json
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

from hosting.problems import PROBLEM_CONTENT_TYPE, ApiProblem

INVALID_REQUEST = "invalid_request_error"

# Hearth's status → (the status OpenAI's clients expect, type, code) for problems raised by the
# shared services. A spending limit or exhausted credit (Hearth's 402) is OpenAI's
# `insufficient_quota`: a 429 the client must not retry (see `_RETRYABLE`).
_BY_STATUS: dict[int, tuple[int, str, str | None]] = {
    400: (400, INVALID_REQUEST, None),
    401: (401, INVALID_REQUEST, "invalid_api_key"),
    402: (429, "insufficient_quota", "insufficient_quota"),
    404: (404, INVALID_REQUEST, "not_found"),
    405: (405, INVALID_REQUEST, "method_not_allowed"),
    409: (409, INVALID_REQUEST, "model_disabled"),
    413: (413, INVALID_REQUEST, "request_too_large"),
    422: (400, INVALID_REQUEST, "invalid_value"),
    429: (429, "requests", "rate_limit_exceeded"),
    503: (503, "server_error", "service_unavailable"),
}
# The clients retry 408, 409, 429 and 5xx answers twice by default unless `x-should-retry`
# says otherwise. Only a rate limit and a dependency that is down pass: a retried failure would
# run (and bill) the prediction again, and a spending limit does not lift in a second.
_RETRYABLE = {"rate_limit_exceeded", "service_unavailable"}


class OpenAIError(ApiProblem):
    """A refusal worded for OpenAI's clients: its type, param and code ride along as the
    problem's `openai` member until `in_openai_shape` renders it."""

    def __init__(
        self, status: int, message: str, *, type: str = INVALID_REQUEST, param: str | None = None, code: str | None
    ) -> None:
        super().__init__(status, "OpenAI error", message, openai={"type": type, "param": param, "code": code})


def model_not_found(name: str) -> OpenAIError:
    """OpenAI's own words, for a model that is missing or not the caller's to run alike."""
    return OpenAIError(
        404, f"The model `{name}` does not exist or you do not have access to it.", code="model_not_found"
    )


def error_json(message: str, *, type: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _from_problem(status: int, problem: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    detail = (problem.get("detail") or "").strip()
    declared = problem.get("openai")
    if isinstance(declared, dict):
        return status, error_json(detail, **declared)
    # The title says what happened ("You have reached your spending limit"), the detail the figures.
    message = ": ".join(part for part in (problem.get("title"), detail) if part)
    openai_status, kind, code = _BY_STATUS.get(status, (status, "server_error", None))
    fields = problem.get("invalid_fields") or []
    param = fields[0].get("field") if fields and isinstance(fields[0], dict) else None
    return openai_status, error_json(message, type=kind, param=param, code=code)


def in_openai_shape(response: HttpResponseBase) -> HttpResponseBase:
    """A problem+json answer as OpenAI's error; any other answer as it is."""
    if not isinstance(response, HttpResponse) or response.get("Content-Type") != PROBLEM_CONTENT_TYPE:
        return response
    status, body = _from_problem(response.status_code, json.loads(response.content))
    answer = JsonResponse(body, status=status)
    for header in ("Retry-After", "Allow"):
        if header in response:
            answer[header] = response[header]
    answer["x-should-retry"] = "true" if body["error"]["code"] in _RETRYABLE else "false"
    return answer
