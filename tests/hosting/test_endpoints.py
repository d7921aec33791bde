"""The one way to write a /v1 endpoint (hosting.api.Endpoint, accounts.endpoints.AccountEndpoint):
sync and async handlers resolve the caller the same way and answer every error as problem+json."""

import subprocess
import sys
from pathlib import Path

from django.test import AsyncClient

from inference import selectors, services

REPO_ROOT = Path(__file__).resolve().parents[2]


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_a_bug_in_a_sync_handler_answers_a_500_problem_not_an_html_page(api, alice, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "prediction_list", broken)
    body = _is_problem(api.get("/v1/predictions", **alice.auth), 500)
    assert "a bug" not in body["detail"]  # the details go to the log, not to the caller


def test_a_bug_in_an_async_handler_answers_a_500_problem(api, alice, echo_version, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "prediction_create", broken)
    response = api.post(
        "/v1/predictions",
        {"version": echo_version.sha256, "input": {}},
        content_type="application/json",
        **alice.auth,
    )
    _is_problem(response, 500)


def test_an_async_endpoint_refuses_a_method_it_lacks_with_405_and_allow(api, alice):
    response = api.delete("/v1/predictions", **alice.auth)
    _is_problem(response, 405)
    assert response["Allow"] == "GET, POST"


async def test_sync_and_async_handlers_of_one_endpoint_refuse_a_missing_token_alike():
    client = AsyncClient()
    listed = await client.get("/v1/predictions")
    created = await client.post("/v1/predictions", {}, content_type="application/json")
    assert _is_problem(listed, 401) == _is_problem(created, 401)


def test_the_web_process_never_imports_the_worker():
    """Everything Daphne loads (the ASGI app, every URL) leaves inference.worker, whose import
    builds the runner pool, unimported. The import-linter contract checks the same statically."""
    script = (
        "import os, sys, django\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'hosting.settings_test'\n"
        "django.setup()\n"
        "import hosting.asgi\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "print(sorted(m for m in sys.modules if m.startswith('inference.worker')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    loaded_api = subprocess.run(
        [
            sys.executable,
            "-c",
            script.replace(
                "sys.modules if m.startswith('inference.worker')", "sys.modules if m.startswith('inference.api')"
            ),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "inference.api.predictions" in loaded_api.stdout  # the check above looked at a loaded app
