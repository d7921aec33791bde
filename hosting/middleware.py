"""Middleware of the /v1 API (settings.API_MIDDLEWARE)."""

from django.middleware.security import SecurityMiddleware


class ApiSecurityMiddleware(SecurityMiddleware):
    """Django's SecurityMiddleware (nosniff, referrer and opener policies, HSTS, the HTTPS
    redirect), run on the event loop.

    Under ASGI, Django hands a middleware's `process_request` and `process_response` each to
    the request's sync thread and waits for it: two hand-overs per API request. These two
    only read settings and the request and set headers, so they run where they are called.
    """

    async def __acall__(self, request):
        response = self.process_request(request)  # the HTTPS redirect, if one is due
        response = response or await self.get_response(request)
        return self.process_response(request, response)
