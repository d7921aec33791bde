"""Middleware of the /v1 API (settings.API_MIDDLEWARE)."""

from collections.abc import Awaitable
from typing import cast

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.security import SecurityMiddleware


class ApiSecurityMiddleware(SecurityMiddleware):
    """Django's SecurityMiddleware (nosniff, referrer and opener policies, HSTS, the HTTPS
    redirect), run on the event loop.

    Under ASGI, Django hands a middleware's `process_request` and `process_response` each to
    the request's sync thread and waits for it: two hand-overs per API request. These two
    only read settings and the request and set headers, so they run where they are called.
    """

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        redirect = self.process_request(request)  # the HTTPS redirect, if one is due
        # Django calls __acall__ only in async mode, where get_response is a coroutine function.
        response = redirect or await cast(Awaitable[HttpResponseBase], self.get_response(request))
        # django-stubs narrows the argument to HttpResponse; any response (streams too) is fine.
        return self.process_response(request, response)  # type: ignore[arg-type]
