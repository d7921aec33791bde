"""The base of the /openai/v1 endpoints: an API-token endpoint whose every refusal, its own or
the shared services', leaves in OpenAI's error shape."""

import inspect
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from accounts.endpoints import AccountEndpoint
from inference.openai_compat.errors import in_openai_shape


class OpenAIEndpoint(AccountEndpoint):
    """Handlers are async (`async def post`): they run on the event loop like the /v1 create
    path, after the same token lookup (`AccountEndpoint.authenticate_async`)."""

    # Not in /v1/openapi.json: OpenAI's own API reference documents these operations.
    schema = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)
        # Sync handlers would answer through DRF, whose errors this wrapper would not see whole.
        assert inspect.iscoroutinefunction(view), f"{cls.__name__}'s handlers must be async"

        async def openai_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return in_openai_shape(await view(request, *args, **kwargs))

        openai_view.cls = cls  # type: ignore[attr-defined]
        openai_view.initkwargs = initkwargs  # type: ignore[attr-defined]
        return csrf_exempt(openai_view)
