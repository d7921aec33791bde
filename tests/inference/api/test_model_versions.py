"""POST /v1/models and package uploads to /v1/models/{owner}/{name}/versions."""

import json

import pytest

from inference.models import Model, Version
from inference.registry.packaging import build_package
from tests.conftest import ZOO


def create_model(api, persona, **fields):
    body = {"owner": persona.account.username, "name": "painter", "visibility": "private", "hardware": "cpu", **fields}
    return api.post("/v1/models", data=json.dumps(body), content_type="application/json", **persona.auth)


def upload(api, persona, ref, body: bytes):
    return api.generic("POST", f"/v1/models/{ref}/versions", data=body, content_type="application/gzip", **persona.auth)


def test_it_creates_a_model(api, alice, cpu):
    response = create_model(api, alice, description="Paints")
    assert response.status_code == 201
    body = response.json()
    assert (body["owner"], body["name"], body["visibility"], body["hardware"]) == ("alice", "painter", "private", "cpu")
    assert body["latest_version"] is None and body["description"] == "Paints"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Has Spaces"),
        ("name", ""),
        ("visibility", "secret"),
        ("hardware", "gpu-imaginary"),
        ("github_url", "not a url"),
    ],
)
def test_bad_fields_are_a_problem_naming_the_field(api, alice, cpu, field, value):
    response = create_model(api, alice, **{field: value})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [f["field"] for f in response.json()["invalid_fields"]] == [field]
    assert not Model.objects.exists()


def test_a_duplicate_name_is_a_409(api, alice, cpu):
    assert create_model(api, alice).status_code == 201
    assert create_model(api, alice).status_code == 409
    assert Model.objects.count() == 1


def test_nobody_creates_models_in_another_account(api, alice, bob, cpu):
    response = create_model(api, bob, owner="alice")
    assert response.status_code == 403
    assert not Model.objects.exists()


def test_an_uploaded_package_becomes_the_latest_version(api, alice, cpu):
    create_model(api, alice)
    archive = build_package(ZOO / "echo")
    response = upload(api, alice, "alice/painter", archive)
    assert response.status_code == 201, response.content
    version_id = response.json()["id"]
    assert Model.objects.get(name="painter").latest_version.sha256 == version_id
    assert response.json()["openapi_schema"]["components"]["schemas"]["Output"]["type"] == "string"
    assert upload(api, alice, "alice/painter", archive).json()["id"] == version_id
    assert Version.objects.count() == 1


@pytest.mark.parametrize(("case", "body", "status"), [("garbage", b"not a tarball", 422), ("empty", b"", 400)])
def test_a_bad_upload_is_refused_and_stores_nothing(api, alice, cpu, case, body, status):
    create_model(api, alice)
    response = upload(api, alice, "alice/painter", body)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert not Version.objects.exists()


def test_an_upload_over_the_size_limit_is_a_413(api, alice, cpu, settings):
    settings.MAX_PACKAGE_BYTES = 1024
    create_model(api, alice)
    response = upload(api, alice, "alice/painter", b"x" * 4096)
    assert response.status_code == 413
    assert not Version.objects.exists()


@pytest.mark.parametrize("visibility", ["private", "public"])
def test_nobody_uploads_to_another_accounts_model(api, alice, bob, cpu, visibility):
    create_model(api, alice, visibility=visibility)
    response = upload(api, bob, "alice/painter", build_package(ZOO / "echo"))
    assert response.status_code == 404
    assert not Version.objects.exists()


def delete_model(api, persona, ref="alice/painter"):
    return api.delete(f"/v1/models/{ref}", **persona.auth)


def test_an_empty_private_model_is_deleted(api, alice, cpu):
    create_model(api, alice)
    response = delete_model(api, alice)
    assert response.status_code == 204
    assert not Model.objects.exists()
    assert api.get("/v1/models/alice/painter", **alice.auth).status_code == 404


@pytest.mark.parametrize("visibility", ["private", "public"])
def test_nobody_deletes_another_accounts_model(api, alice, bob, cpu, visibility):
    create_model(api, alice, visibility=visibility)
    response = delete_model(api, bob)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert Model.objects.filter(owner=alice.account, name="painter", visibility=visibility).exists()


@pytest.mark.parametrize(("visibility", "with_version"), [("public", False), ("private", True)])
def test_a_public_model_or_one_with_versions_is_not_deleted(api, alice, cpu, visibility, with_version):
    create_model(api, alice, visibility=visibility)
    if with_version:
        assert upload(api, alice, "alice/painter", build_package(ZOO / "echo")).status_code == 201
    response = delete_model(api, alice)
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert Model.objects.filter(name="painter").exists()
    assert Version.objects.count() == int(with_version)


# --- GET /v1/models and QUERY /v1/models (the clients' models.list and models.search) ---------

MODEL_FIELDS = {
    "url",
    "owner",
    "name",
    "description",
    "visibility",
    "github_url",
    "paper_url",
    "license_url",
    "cover_image_url",
    "run_count",
    "hardware",
    "default_example",
    "latest_version",
    "cache_policy",
    "cache_shared",
}


@pytest.fixture
def catalogue(alice, bob, echo_version, cpu):
    """alice: echo (private, with a version) and painter (public); bob: secret (private) and pub (public)."""
    Model.objects.create(owner=alice.account, name="painter", hardware=cpu, visibility="public")
    Model.objects.create(owner=bob.account, name="secret", hardware=cpu, visibility="private")
    Model.objects.create(owner=bob.account, name="pub", hardware=cpu, visibility="public")


def names(page) -> list[str]:
    return [f"{m['owner']}/{m['name']}" for m in page["results"]]


def search(api, persona, text, **extra):
    return api.generic("QUERY", "/v1/models", data=text, content_type="text/plain", **persona.auth, **extra)


def walk(api, persona, response) -> list[str]:
    """Every model of a first page and of the pages its `next` links lead to."""
    seen = []
    while True:
        assert response.status_code == 200, response.content
        page = response.json()
        seen += names(page)
        if not page["next"]:
            return seen
        assert page["next"].startswith("http://testserver/v1/models?")
        response = api.get(page["next"], **persona.auth)


def test_it_lists_public_models_and_ones_own_newest_first_as_a_page(api, alice, catalogue):
    response = api.get("/v1/models", **alice.auth)
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"previous", "next", "results"} and page["next"] is None
    assert names(page) == ["bob/pub", "alice/painter", "alice/echo"]
    assert all(set(model) == MODEL_FIELDS for model in page["results"])
    echo = page["results"][2]
    assert echo["url"] == "http://testserver/alice/echo" and echo["visibility"] == "private"
    assert echo["latest_version"]["id"] == "a" * 64


def test_another_tenants_private_model_never_appears_in_the_list_or_a_search(api, alice, bob, catalogue):
    assert names(api.get("/v1/models", **bob.auth).json()) == ["bob/pub", "bob/secret", "alice/painter"]
    assert names(search(api, bob, "echo").json()) == []
    assert names(api.get("/v1/models?query=alice", **bob.auth).json()) == ["alice/painter"]
    assert "bob/secret" not in names(search(api, alice, "bob").json())


def test_the_list_pages_with_absolute_cursors_without_repeats(api, alice, cpu, settings):
    settings.PREDICTIONS_PAGE_SIZE = 2
    created = [Model.objects.create(owner=alice.account, name=f"m{i}", hardware=cpu).full_name for i in range(5)]
    assert walk(api, alice, api.get("/v1/models", **alice.auth)) == created[::-1]


def test_query_searches_owner_and_name_and_its_next_link_keeps_the_search(api, alice, bob, cpu, settings):
    settings.PREDICTIONS_PAGE_SIZE = 2
    for name in ("upscaler-a", "upscaler-b", "painter", "upscaler-c"):
        Model.objects.create(owner=alice.account, name=name, hardware=cpu, visibility="public")
    assert walk(api, bob, search(api, bob, "upscaler")) == ["alice/upscaler-c", "alice/upscaler-b", "alice/upscaler-a"]
    assert walk(api, bob, search(api, bob, "alice/paint")) == ["alice/painter"]
    assert walk(api, bob, search(api, bob, "")) == [
        "alice/upscaler-c",
        "alice/painter",
        "alice/upscaler-b",
        "alice/upscaler-a",
    ]


def test_query_takes_a_json_encoded_search_text_as_the_text_it_encodes(api, alice, bob, catalogue):
    # The JS client (replicate 1.4.0) sends JSON.stringify(text) with Content-Type text/plain.
    assert names(search(api, bob, '"alice/paint"').json()) == ["alice/painter"]
    assert names(search(api, bob, '"\\u0070ub"').json()) == ["bob/pub"]
    assert names(search(api, bob, '"' + "x" * 200 + '"').json()) == []  # 200 characters once decoded


@pytest.mark.parametrize(
    ("case", "make_request"),
    [
        ("cursor_not_base64", lambda api, p: api.get("/v1/models?cursor=!!!", **p.auth)),
        # A well-formed cursor whose key is not a model's: "2025-01-01T00:00:00+00:00|abc".
        (
            "cursor_bad_key",
            lambda api, p: api.get("/v1/models?cursor=MjAyNS0wMS0wMVQwMDowMDowMCswMDowMHxhYmM", **p.auth),
        ),
        ("search_too_long", lambda api, p: search(api, p, "x" * 201)),
        ("search_not_utf8", lambda api, p: search(api, p, b"\xff\xfe")),
    ],
)
def test_a_bad_cursor_or_search_is_a_400_problem(api, alice, case, make_request):
    response = make_request(api, alice)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["invalid_fields"][0]["field"] in {"cursor", "body"}


@pytest.mark.parametrize("method", ["GET", "QUERY"])
def test_listing_models_needs_a_token(api, catalogue, method):
    response = api.generic(method, "/v1/models", data="echo", content_type="text/plain")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
