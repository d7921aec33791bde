"""GET /v1/collections, /v1/collections/{slug} and /v1/search."""

import pytest
from django.test import override_settings

from inference.models import Collection, Model


@pytest.fixture
def models(alice, bob, cpu, echo_version):
    """alice's private echo (with a version), her public painter, and bob's private secret."""
    painter = Model.objects.create(
        owner=alice.account, name="painter", hardware=cpu, visibility="public", description="Paints pictures"
    )
    secret = Model.objects.create(owner=bob.account, name="secret-painter", hardware=cpu)
    return {"echo": echo_version.model, "painter": painter, "secret": secret}


@pytest.fixture
def art(models):
    collection = Collection.objects.create(name="Art", slug="art", description="Models that paint")
    collection.models.set(models.values())
    return collection


def test_the_list_is_a_cursor_page_of_name_slug_and_description(api, alice):
    for number in range(3):
        Collection.objects.create(name=f"Set {number}", slug=f"set-{number}", description=f"number {number}")
    with override_settings(PREDICTIONS_PAGE_SIZE=2):
        first = api.get("/v1/collections", **alice.auth).json()
        assert first["previous"] is None
        assert first["results"] == [
            {"name": "Set 2", "slug": "set-2", "description": "number 2"},
            {"name": "Set 1", "slug": "set-1", "description": "number 1"},
        ]
        assert first["next"].startswith("http://testserver/v1/collections?cursor=")
        second = api.get(first["next"], **alice.auth).json()
    assert [c["slug"] for c in second["results"]] == ["set-0"] and second["next"] is None


def test_the_list_needs_a_token(api, db):
    response = api.get("/v1/collections")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_a_collection_lists_its_models_as_models_are_shown(api, alice, art):
    response = api.get("/v1/collections/art", **alice.auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["slug"], body["description"]) == ("Art", "art", "Models that paint")
    assert [(m["owner"], m["name"]) for m in body["models"]] == [("alice", "echo"), ("alice", "painter")]
    assert body["models"][0] == api.get("/v1/models/alice/echo", **alice.auth).json()


def test_another_tenants_private_model_is_left_out(api, alice, bob, art):
    alice_sees = api.get("/v1/collections/art", **alice.auth).json()["models"]
    assert "secret-painter" not in {m["name"] for m in alice_sees} and len(alice_sees) == 2
    bob_sees = api.get("/v1/collections/art", **bob.auth).json()["models"]
    assert sorted((m["owner"], m["name"]) for m in bob_sees) == [("alice", "painter"), ("bob", "secret-painter")]


def test_an_unknown_slug_is_a_404_problem(api, alice):
    response = api.get("/v1/collections/nothing-here", **alice.auth)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_search_finds_models_and_collections(api, alice, art):
    response = api.get("/v1/search", {"query": "paint"}, **alice.auth)
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "paint" and body["pages"] == []
    assert [hit["model"]["name"] for hit in body["models"]] == ["painter"]  # not bob's private one
    hit = body["models"][0]
    assert hit["model"] == api.get("/v1/models/alice/painter", **alice.auth).json()
    assert hit["metadata"] == {"generated_description": "Paints pictures", "score": 1.0, "tags": []}
    assert body["collections"] == [{"name": "Art", "slug": "art", "description": "Models that paint"}]


def test_search_matches_collections_by_description(api, alice, art):
    body = api.get("/v1/search", {"query": "that paint"}, **alice.auth).json()
    assert body["models"] == [] and [c["slug"] for c in body["collections"]] == ["art"]


def test_search_scores_fall_with_rank_and_limit_caps_the_models(api, alice, models):
    body = api.get("/v1/search", {"query": "alice"}, **alice.auth).json()
    scores = [hit["metadata"]["score"] for hit in body["models"]]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True) and scores[0] == 1.0
    assert body["models"][0]["metadata"]["generated_description"] == "Paints pictures"
    assert body["models"][1]["metadata"]["generated_description"] == ""
    limited = api.get("/v1/search", {"query": "alice", "limit": "1"}, **alice.auth).json()
    assert len(limited["models"]) == 1


@pytest.mark.parametrize("limit", ["1", "50"])
def test_search_limits_at_the_bounds_are_accepted(api, alice, limit):
    assert api.get("/v1/search", {"query": "x", "limit": limit}, **alice.auth).status_code == 200


@pytest.mark.parametrize("limit", ["0", "51", "-1", "ten", ""])
def test_search_limits_out_of_bounds_are_a_problem_naming_limit(api, alice, limit):
    response = api.get("/v1/search", {"query": "x", "limit": limit}, **alice.auth)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [f["field"] for f in response.json()["invalid_fields"]] == ["limit"]


@pytest.mark.parametrize("params", [{}, {"query": ""}, {"query": "   "}, {"query": "x" * 201}])
def test_search_without_a_usable_query_is_a_problem_naming_query(api, alice, params):
    response = api.get("/v1/search", params, **alice.auth)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [f["field"] for f in response.json()["invalid_fields"]] == ["query"]
