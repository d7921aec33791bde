"""/v1/collections (curated lists of models, kept in the Django admin) and /v1/search (models
and collections), as Replicate's API has them (replicate-api.md §2, §13)."""

import re

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.endpoints import AccountEndpoint
from hosting.openapi import AUTHENTICATED_PROBLEMS, CURSOR, json_response, problems
from hosting.pagination import cursor_page
from hosting.problems import InvalidRequest
from hosting.shapes import NO_NUL
from inference import selectors
from inference.api.model_versions import SEARCH_MAX_CHARS, checked_search_text
from inference.representations import (
    SearchJSON,
    base_url,
    collection_detail_json,
    collection_json,
    search_model_json,
)

SEARCH_LIMIT_DEFAULT = 20
SEARCH_LIMIT_MAX = 50


class CollectionList(AccountEndpoint):
    @extend_schema(
        summary="List the collections of models, newest first",
        tags=["collections"],
        parameters=[CURSOR],
        responses={200: json_response("CollectionPage"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        return Response(
            cursor_page(
                selectors.collection_list(),
                cursor=request.query_params.get("cursor"),
                page_size=settings.PREDICTIONS_PAGE_SIZE,
                page_url=f"{base_url(request)}/v1/collections",
                render=collection_json,
            )
        )


class CollectionDetail(AccountEndpoint):
    @extend_schema(
        summary="Get a collection with its models (those you may see: public ones and your own)",
        tags=["collections"],
        responses={200: json_response("CollectionDetail"), **problems(404), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request, slug: str):
        collection = selectors.collection_get(slug=slug)
        models = selectors.collection_models(account=self.account, collection=collection)
        return Response(collection_detail_json(collection, models, origin=base_url(request)))


def _search_query(request) -> str:
    query = checked_search_text(request.query_params.get("query", ""), field="query")
    if not query:
        raise InvalidRequest("Give the search text as `query`.", field="query", kind="required")
    return query


def _search_limit(request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return SEARCH_LIMIT_DEFAULT
    # ASCII digits only: str.isdigit() and int() would take "٥" and " 5".
    limit = int(text) if re.fullmatch(r"[0-9]{1,9}", text) else 0
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {SEARCH_LIMIT_MAX}.", field="limit")
    return limit


class Search(AccountEndpoint):
    @extend_schema(
        summary="Search the models you may see and the collections",
        description="Models match as in `GET /v1/models?query=` (every word in owner/name), newest first, "
        "scored by rank; collections match every word in their name, slug or description. "
        "`pages` is always empty.",
        tags=["search"],
        parameters=[
            OpenApiParameter(
                "query",
                # Some character that is not a space: the text is stripped of SPACES, and an empty one is refused.
                {
                    "type": "string",
                    "maxLength": SEARCH_MAX_CHARS,
                    "allOf": [{"pattern": NO_NUL}, {"pattern": r"[^ \t\n\r\f\v]"}],
                },
                required=True,
                description="The search text",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT_MAX, "default": SEARCH_LIMIT_DEFAULT},
                description=f"At most this many models and collections (1-{SEARCH_LIMIT_MAX})",
            ),
        ],
        responses={200: json_response("Search"), **problems(400), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        query, limit = _search_query(request), _search_limit(request)
        origin = base_url(request)
        models = selectors.model_list(account=self.account, query=query)[:limit]
        body: SearchJSON = {
            "query": query,
            "models": [
                search_model_json(model, score=round(1 / (rank + 1), 6), origin=origin)
                for rank, model in enumerate(models)
            ],
            "collections": [collection_json(c) for c in selectors.collection_search(query=query)[:limit]],
            "pages": [],
        }
        return Response(body)
