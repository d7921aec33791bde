"""RFC 7807 problem details, the error format the Replicate clients parse (replicate-api.md §9).

Domain code raises `ApiProblem`; every /v1 endpoint (`hosting.api.Endpoint`, sync handlers
through `drf_exception_handler`, async ones through `Endpoint.dispatch_async`) turns it into an
`application/problem+json` response with `problem_response`. Anything else that escapes a
handler is logged and answered as a 500 problem, never Django's HTML page.
"""

import json
import logging
import threading
from typing import Any, NotRequired

import redis
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpResponse
from rest_framework import exceptions as drf_exceptions
from typing_extensions import TypedDict

from hosting.shapes import shape

PROBLEM_CONTENT_TYPE = "application/problem+json"

logger = logging.getLogger(__name__)


class InvalidFieldJSON(TypedDict):
    type: str
    field: str
    description: str


@shape
class ProblemJSON(TypedDict):
    """RFC 7807 problem details, served as application/problem+json."""

    title: str
    detail: str
    status: int
    invalid_fields: NotRequired[list[InvalidFieldJSON]]


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


def method_not_allowed(method: str, allowed: str) -> ApiProblem:
    problem = ApiProblem(405, "Method not allowed", f"{method} is not allowed here; use {allowed}.")
    problem.headers["Allow"] = allowed
    return problem


def unavailable(exc: BaseException) -> ApiProblem | None:
    """A 503 for a dependency that is down (its connection dropped or refused), else None.
    Nothing was half done: the handler stopped at the first call that failed. For the database,
    the pool's other connections are checked too (`_drop_dead_connections`)."""
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        dependency = "its event store (Redis)"
    elif isinstance(exc, (OperationalError, InterfaceError)):
        dependency = "its database"
        _drop_dead_connections()
    else:
        return None
    problem = ApiProblem(503, "Service unavailable", f"Hearth could not reach {dependency}; try again in a moment.")
    problem.headers["Retry-After"] = "1"
    return problem


_pool_check = threading.Lock()


def _drop_dead_connections() -> None:
    """One pooled connection found dead (a PostgreSQL restarted, failed over, or its backends
    terminated) means those idle beside it are dead too; each would answer a request with a 503
    when it came to be used, 10 s later in tests/chaos. Check them all now, in a thread of its own
    (a request must not wait on it, and an async one runs on the event loop), one check at a time."""
    pool = getattr(connection, "pool", None)  # Django's psycopg pool; None when not configured
    if pool is None or not _pool_check.acquire(blocking=False):
        return

    def check() -> None:
        try:
            pool.check()
        except Exception:  # the database down altogether: the next failure checks again
            logger.warning("could not check the database pool's connections", exc_info=True)
        finally:
            _pool_check.release()

    threading.Thread(target=check, name="database-pool-check", daemon=True).start()


def internal_error() -> ApiProblem:
    """What a client sees of a bug: the details go to the log, not to the caller."""
    return ApiProblem(500, "Internal server error", "Something went wrong on our side; it has been logged.")


def problem_body(problem: ApiProblem) -> dict[str, Any]:  # ProblemJSON, with any extra members
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
    if isinstance(exc, Http404):
        return problem_response(NotFound())
    if isinstance(exc, PermissionDenied):
        return problem_response(ApiProblem(403, "Forbidden", "You may not do this."))
    problem = unavailable(exc)
    if problem is not None:
        logger.warning("a /v1 request found a dependency down: %r", exc)
        if isinstance(exc, (OperationalError, InterfaceError)):
            # A dead connection leaves now, not at some later request's end: the next
            # request on this thread gets a new one.
            connection.close_if_unusable_or_obsolete()
        return problem_response(problem)
    logger.error("unhandled error in a /v1 endpoint", exc_info=exc)
    return problem_response(internal_error())
