import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hosting.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application() does

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from hosting.request_threads import ReusedRequestThreads  # noqa: E402


def _leave_form_bodies_to_django() -> None:
    """Under Daphne, Twisted parses a POST's multipart/form-data body into `request.args`
    before Daphne sees the request, and answers one it cannot parse (no boundary, a wrong
    one) with a bare `400 Bad Request`: no headers, no body, never reaching /v1's problem
    answers. Daphne builds the ASGI scope from the raw body and never reads `args`, so the
    parse is turned off (Twisted's `parsePOSTFormSubmission`), which also spares a second
    copy of every upload in memory. Django parses the form, and a malformed one is a problem."""
    from daphne.http_protocol import WebRequest

    original = WebRequest.__init__
    if getattr(original, "leaves_forms_to_django", False):
        return

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        original(self, *args, **kwargs)

    __init__.leaves_forms_to_django = True  # type: ignore[attr-defined]
    WebRequest.__init__ = __init__


_leave_form_bodies_to_django()


class WebASGIHandler(ReusedRequestThreads, ASGIHandler):
    """The dashboard, admin and playground pages: Django's full middleware stack."""


class ApiASGIHandler(ReusedRequestThreads, ASGIHandler):
    """Serves /v1 with `settings.API_MIDDLEWARE` instead of the full stack.

    API requests authenticate with tokens: sessions, CSRF, messages and clickjacking
    middleware only cost time there (about 1 ms a request, ARCHITECTURE §11).
    """

    def load_middleware(self, is_async=False):
        # BaseHandler reads settings.MIDDLEWARE; swap it only while this handler is built,
        # once, at import time.
        full_stack = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full_stack


web_asgi_app = WebASGIHandler()
api_asgi_app = ApiASGIHandler()


async def http_router(scope, receive, send):
    # /openai/v1 is an API too (inference/openai_compat): token-authenticated, on the short stack.
    app = api_asgi_app if scope["path"].startswith(("/v1/", "/openai/v1/")) else web_asgi_app
    await app(scope, receive, send)


from inference.web.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_router,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
