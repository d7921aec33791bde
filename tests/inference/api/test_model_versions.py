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
