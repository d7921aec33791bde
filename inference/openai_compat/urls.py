"""The OpenAI-compatible API, mounted at /openai/v1/ (hosting/urls.py): a base URL of its own, so
that its /models never meets Replicate's /v1/models."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from inference.openai_compat.embeddings import Embeddings
from inference.openai_compat.errors import INVALID_REQUEST, error_json
from inference.openai_compat.model_list import ModelDetail, ModelList
from inference.openai_compat.text import ChatCompletions, Completions


def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    error = error_json(
        f"Unknown request URL: {request.method} {request.path}.", type=INVALID_REQUEST, param=None, code="unknown_url"
    )
    return JsonResponse(error, status=404, headers={"x-should-retry": "false"})


urlpatterns = [
    path("chat/completions", ChatCompletions.as_view()),
    path("completions", Completions.as_view()),
    path("embeddings", Embeddings.as_view()),
    path("models", ModelList.as_view()),
    # A model's name holds a slash (owner/name), or two (deployments/owner/name).
    path("models/<path:name>", ModelDetail.as_view()),
    path("<path:rest>", not_found),
]
