"""RFC 7807 problem details, the error format the Replicate clients parse (replicate-api.md §9).

Domain code raises `ApiProblem`; both the DRF views and the plain async views turn it into an
`application/problem+json` response through `problem_response`.
"""

import json
from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions as drf_exceptions

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApiProblem(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


class NotAuthenticated(ApiProblem):
    def __init__(self) -> None:
        super().__init__(401, "Unauthenticated", "You did not pass a valid authentication token")


class NotFound(ApiProblem):
    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(404, "Not found", detail)


class InvalidRequest(ApiProblem):
    """A malformed request body; `invalid_fields` names what is wrong."""

    def __init__(self, detail: str, *, field: str, kind: str = "invalid") -> None:
        super().__init__(
            400,
            "Invalid request",
            detail,
            invalid_fields=[{"type": kind, "field": field, "description": detail}],
        )


def problem_body(problem: ApiProblem) -> dict[str, Any]:
    return {"title": problem.title, "detail": problem.detail, "status": problem.status, **problem.extra}


def problem_response(problem: ApiProblem) -> HttpResponse:
    response = HttpResponse(json.dumps(problem_body(problem)), status=problem.status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in problem.headers.items():
        response[name] = value
    return response


def _from_drf(exc: drf_exceptions.APIException) -> ApiProblem:
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return NotAuthenticated()
    if isinstance(exc, drf_exceptions.NotFound):
        return NotFound()
    if isinstance(exc, drf_exceptions.ParseError):
        return InvalidRequest(str(exc.detail), field="body", kind="parse")
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"body": exc.detail}
        fields = [
            {"type": "invalid", "field": str(name), "description": " ".join(str(m) for m in messages)}
            for name, messages in detail.items()
        ]
        return ApiProblem(400, "Invalid request", "; ".join(f["description"] for f in fields), invalid_fields=fields)
    title = exc.default_code.replace("_", " ").capitalize()
    return ApiProblem(exc.status_code, title, str(exc.detail))


def drf_exception_handler(exc: Exception, context: dict) -> HttpResponse | None:
    """DRF's EXCEPTION_HANDLER: every error leaves as problem+json."""
    if isinstance(exc, ApiProblem):
        return problem_response(exc)
    if isinstance(exc, drf_exceptions.APIException):
        return problem_response(_from_drf(exc))
    # Imported here: rest_framework.views loads the authentication classes, which use this module.
    from rest_framework.views import exception_handler as drf_default_handler

    return drf_default_handler(exc, context)
