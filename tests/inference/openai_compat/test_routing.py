"""/openai/v1 is served like /v1: on the API's short middleware stack (hosting/asgi.py), without
the dashboard's sessions, CSRF and messages."""

import pytest

from hosting import asgi


@pytest.mark.parametrize(
    ("path", "stack"),
    [("/openai/v1/chat/completions", "api"), ("/v1/predictions", "api"), ("/openai", "web"), ("/alice/chat", "web")],
)
async def test_the_openai_api_takes_the_api_stack(monkeypatch, path, stack):
    reached = []

    def app(name):
        async def serve(scope, receive, send):
            reached.append(name)

        return serve

    monkeypatch.setattr(asgi, "api_asgi_app", app("api"))
    monkeypatch.setattr(asgi, "web_asgi_app", app("web"))

    await asgi.http_router({"type": "http", "path": path}, None, None)

    assert reached == [stack]
