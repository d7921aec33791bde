"""Hearth's own middleware: the /v1 API's security headers (settings.API_MIDDLEWARE) and the
dashboard's Content-Security-Policy (settings.MIDDLEWARE)."""

from collections.abc import Awaitable
from typing import cast

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.security import SecurityMiddleware
from django.utils.deprecation import MiddlewareMixin


def _is_html(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


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
        return self.process_response(request, response)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:  # type: ignore[override]
        # django-stubs narrows the argument to HttpResponse; any response (streams too) is fine.
        response = super().process_response(request, response)  # type: ignore[arg-type]
        # The one HTML page of /v1 is the docs (Swagger UI): a policy that lets it run, and no
        # framing. JSON answers need neither, so the hot path pays one header lookup.
        if _is_html(response):
            response.headers.setdefault("Content-Security-Policy", settings.API_DOCS_CONTENT_SECURITY_POLICY)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """settings.CONTENT_SECURITY_POLICY on the dashboard's HTML pages (a view that sets its
    own policy keeps it). Only headers are set, so under ASGI it runs on the event loop
    rather than costing a hand-over to the request's sync thread."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if _is_html(response):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = await cast(Awaitable[HttpResponseBase], self.get_response(request))
        return self.process_response(request, response)
