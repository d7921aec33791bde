"""The /v1 API's security middleware: Django's headers and HTTPS redirect, on the event loop."""

import threading

from channels.testing import HttpCommunicator
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware

from hosting.asgi import application
from hosting.middleware import ApiSecurityMiddleware


async def test_api_responses_carry_the_security_headers():
    communicator = HttpCommunicator(application, "GET", "/v1/predictions", headers=[(b"host", b"localhost")])
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    assert response["status"] == 401
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"


async def test_plain_http_is_redirected_to_https_before_the_view_runs(settings, rf):
    settings.SECURE_SSL_REDIRECT = True

    async def view(request):
        raise AssertionError("the view ran")

    response = await ApiSecurityMiddleware(view)(rf.get("/v1/predictions"))
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/v1/predictions"


async def test_both_hooks_run_on_the_event_loop_thread(rf, monkeypatch):
    threads = []
    for hook in ("process_request", "process_response"):
        original = getattr(SecurityMiddleware, hook)

        def recording(self, *args, original=original):
            threads.append(threading.get_ident())
            return original(self, *args)

        monkeypatch.setattr(SecurityMiddleware, hook, recording)

    async def view(request):
        return HttpResponse()

    await ApiSecurityMiddleware(view)(rf.get("/v1/predictions"))
    assert threads == [threading.get_ident()] * 2
