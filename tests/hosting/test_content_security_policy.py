"""The dashboard's Content-Security-Policy and frame protection, and /v1/docs' (hosting.middleware).

tests/browser/test_content_security_policy.py checks that no page breaks the policy in a real
browser; this checks every page carries it and has no inline script, handler or style."""

import json
from html.parser import HTMLParser

import pytest
from channels.testing import HttpCommunicator
from django.conf import settings

from hosting.asgi import application
from inference.models import Prediction

PASSWORD = "correct horse 9"  # tests.conftest.make_persona's


class InlineCode(HTMLParser):
    """What a policy without 'unsafe-inline' would block: inline scripts (a JSON data block
    is not run, so it is allowed), event handler attributes, style attributes and elements,
    javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and "src" not in values and values.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f"<{tag} style=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_parser_finds_what_the_policy_would_block():
    page = (
        '<script>alert(1)</script><script type="application/json">{}</script><script src="/a.js"></script>'
        '<button onclick="go()">x</button><span style="width: 5%"></span><style>p {}</style>'
        '<a href="javascript:go()">y</a>'
    )
    assert inline_code(page) == [
        "inline <script>",
        "<button onclick=…>",
        "<span style=…>",
        "<style> element",
        "<a href=javascript:…>",
    ]


@pytest.fixture
def prediction(api, alice, echo_version) -> Prediction:
    response = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {"text": "hi"}}),
        content_type="application/json",
        **alice.auth,
    )
    assert response.status_code == 201, response.content
    return Prediction.objects.get()


def assert_protected(response) -> None:
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert inline_code(response.content.decode()) == []


@pytest.mark.parametrize(
    "path", ["/login", "/signup", "/password-reset", "/password-reset/sent", "/reset/done", "/no/such/page/here"]
)
def test_signed_out_pages_carry_the_policy(client, db, path):
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert_protected(response)


def test_signed_in_pages_carry_the_policy(client, alice, prediction):
    assert client.login(username="alice", password=PASSWORD)
    for path in [
        "/models",
        "/alice/echo",
        "/predictions",
        f"/p/{prediction.id}",
        "/account/usage",
        "/account/api-tokens",
        "/admin/login/",
    ]:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert_protected(response)


def test_the_policy_allows_only_the_sites_own_scripts_and_styles():
    directives = dict(part.split(" ", 1) for part in settings.CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"  # the playground's websocket: ws(s) to the same host
    assert directives["img-src"].startswith("'self' data:")
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in settings.CONTENT_SECURITY_POLICY + settings.API_DOCS_CONTENT_SECURITY_POLICY


async def get_from_the_server(path: str) -> tuple[int, dict[str, str], str]:
    """GET through hosting.asgi.application, as Daphne serves it: /v1 with its own middleware."""
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost")])
    response = await communicator.get_response(timeout=10)
    await communicator.wait(timeout=5)
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    return response["status"], headers, response["body"].decode()


async def test_the_api_docs_cannot_be_framed_and_run_no_inline_code():
    status, headers, body = await get_from_the_server("/v1/docs")
    assert status == 200
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == settings.API_DOCS_CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert inline_code(body) == []
    assert "/v1/openapi.json" in body and "drf_spectacular_sidecar/swagger-ui-dist" in body
    assert "js/api_docs.js" in body


async def test_json_answers_of_the_api_carry_no_policy():
    status, headers, _ = await get_from_the_server("/v1/predictions")
    assert (status, headers["content-type"]) == (401, "application/problem+json")
    assert "content-security-policy" not in headers
    assert "x-frame-options" not in headers
