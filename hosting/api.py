"""The one way to write a /v1 endpoint: a class with a method per HTTP verb.

Sync handlers (`def get(self, request, ...)`) run through DRF: its authentication, throttles and
content negotiation, with every error leaving through `hosting.problems.drf_exception_handler`.

Async handlers (`async def post(self, request, ...)`) serve the hot paths (creating a prediction
and waiting for it, SSE streams, file downloads) on the event loop, with no thread and no DRF
request wrapping (ARCHITECTURE §4, §11): `as_view` routes their methods to `dispatch_async`,
which calls `authenticate_async` (an app's base says who the caller is) and turns an
`ApiProblem` into the same problem+json. A class may mix both kinds.

drf-spectacular documents both kinds alike, since the URL's view is the class either way.
"""

import inspect
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView

from hosting.problems import ApiProblem, internal_error, method_not_allowed, problem_response, unavailable

logger = logging.getLogger(__name__)


class Endpoint(APIView):
    # The view DRF builds serves only the sync handlers; `as_view` routes the async ones itself.
    view_is_async = False

    def handle_exception(self, exc: Exception) -> Any:
        """A read whose database connection died under it (a restarted or failed-over PostgreSQL,
        a terminated backend) is tried once more on a new connection: it changed nothing, so the
        client gets its answer rather than a 503. Anything else, and a second failure, leaves as
        problem+json (`drf_exception_handler`)."""
        if (
            isinstance(exc, (OperationalError, InterfaceError))
            and self.request.method in SAFE_METHODS
            and not connection.in_atomic_block
            and not getattr(self, "_retried_read", False)
        ):
            self._retried_read = True
            logger.warning(
                "%s %s lost its database connection (%r); trying once more", self.request.method, self.request.path, exc
            )
            try:
                connection.close()  # back to the pool, which drops it: the retry gets another
                self.initial(self.request, *self.args, **self.kwargs)  # it may have failed there
                handler = getattr(self, (self.request.method or "").lower())
                return handler(self.request, *self.args, **self.kwargs)
            except Exception as again:
                exc = again
        return super().handle_exception(exc)

    async def authenticate_async(self, request: HttpRequest) -> None:
        """Resolve the caller before an async handler runs (raise an ApiProblem to refuse).
        Endpoints reached by capability URLs keep this default and check inside the handler."""

    async def dispatch_async(self, request: HttpRequest, method: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.request, self.args, self.kwargs = request, args, kwargs  # type: ignore[assignment]
        try:
            await self.authenticate_async(request)
            response: HttpResponseBase = await getattr(self, method)(request, *args, **kwargs)
        except ApiProblem as problem:
            return problem_response(problem)
        except Exception as exc:
            down = unavailable(exc)
            if down is not None:
                logger.warning("%s %s found a dependency down: %r", request.method, request.path, exc)
                return problem_response(down)
            logger.exception("unhandled error in %s %s", request.method, request.path)
            return problem_response(internal_error())
        return response

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        drf_view = super().as_view(**initkwargs)
        async_methods = {
            name for name in cls.http_method_names if inspect.iscoroutinefunction(getattr(cls, name, None))
        }
        if not async_methods:
            return drf_view
        sync_methods = {name for name in cls.http_method_names if hasattr(cls, name) and name not in async_methods}
        sync_methods.discard("options")  # APIView's own; not a handler of this endpoint
        allowed = ", ".join(sorted(name.upper() for name in async_methods | sync_methods))
        drf_in_thread = sync_to_async(drf_view)

        async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            method = (request.method or "").lower()
            if method in async_methods:
                return await cls(**initkwargs).dispatch_async(request, method, *args, **kwargs)
            if method in sync_methods:
                return await drf_in_thread(request, *args, **kwargs)
            return problem_response(method_not_allowed(request.method or "", allowed))

        view.cls = cls  # type: ignore[attr-defined]  # what drf-spectacular and DRF's tooling read
        view.initkwargs = initkwargs  # type: ignore[attr-defined]
        return csrf_exempt(view)
