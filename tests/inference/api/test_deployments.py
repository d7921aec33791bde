"""/v1/deployments: create, list, get, update (releases), delete, and predictions through one."""

import json

import pytest
from django.test import override_settings

from billing.models import Hardware, UsageRecord
from inference.models import Deployment, DeploymentRelease, Model, Prediction, Version
from tests.inference.api.test_predictions import post_json


def _create_body(echo: Version, **changes):
    return {
        "name": "echo-prod",
        "model": "alice/echo",
        "version": echo.sha256,
        "hardware": "cpu",
        "min_instances": 1,
        "max_instances": 3,
        **changes,
    }


def _patch(api, path, body, persona):
    return api.patch(path, data=json.dumps(body), content_type="application/json", **persona.auth)


@pytest.fixture
def deployment(api, alice, echo_version):
    response = post_json(api, "/v1/deployments", _create_body(echo_version), alice)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def second_version(echo_version):
    version = Version.objects.create(
        model=echo_version.model,
        sha256="b" * 64,
        predictor_ref=echo_version.predictor_ref,
        openapi_schema=echo_version.openapi_schema,
        cog_version=echo_version.cog_version,
        package="packages/none.tar.gz",
    )
    return version


def test_create_answers_the_deployment_with_release_1(deployment, alice, echo_version):
    assert deployment["owner"] == "alice" and deployment["name"] == "echo-prod"
    release = deployment["current_release"]
    assert release["number"] == 1
    assert release["model"] == "alice/echo"
    assert release["version"] == echo_version.sha256
    assert release["configuration"] == {"hardware": "cpu", "min_instances": 1, "max_instances": 3}
    # The Python client requires `name` on created_by (replicate-api.md §12.2, item 16).
    assert release["created_by"] == {"type": "user", "username": "alice", "name": "alice", "github_url": None}
    assert release["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("changes", "field", "status"),
    [
        ({"name": "Bad Name"}, "name", 400),
        ({"model": "no-slash"}, "model", 400),
        ({"version": "not-hex"}, "version", 400),
        ({"hardware": "gpu-unknown"}, "hardware", 400),
        ({"min_instances": -1}, "min_instances", 400),
        ({"max_instances": 0}, "max_instances", 400),
        ({"max_instances": 21}, "max_instances", 400),
        ({"min_instances": None}, "min_instances", 400),
        ({"min_instances": "1"}, "min_instances", 400),
        # Well formed, but naming what is not there, or instances out of order: 422.
        ({"model": "alice/nope"}, "model", 422),
        ({"model": "bob/secret"}, "model", 422),
        ({"version": "f" * 64}, "version", 422),
        ({"min_instances": 4, "max_instances": 3}, "min_instances", 422),
    ],
)
def test_bad_create_bodies_name_the_field_and_create_nothing(
    api, alice, bob, cpu, echo_version, changes, field, status
):
    Model.objects.create(owner=bob.account, name="secret", hardware=cpu)
    body = _create_body(echo_version, **changes)
    response = post_json(api, "/v1/deployments", body, alice)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [f["field"] for f in response.json()["invalid_fields"]]
    assert not Deployment.objects.exists() and not DeploymentRelease.objects.exists()


def test_a_missing_field_is_named(api, alice, echo_version):
    body = _create_body(echo_version)
    del body["hardware"]
    response = post_json(api, "/v1/deployments", body, alice)
    assert response.status_code == 400
    assert [f["field"] for f in response.json()["invalid_fields"]] == ["hardware"]


def test_a_second_deployment_of_one_name_is_409(api, alice, deployment, echo_version):
    response = post_json(api, "/v1/deployments", _create_body(echo_version), alice)
    assert response.status_code == 409
    assert Deployment.objects.count() == 1 and DeploymentRelease.objects.count() == 1


def test_a_public_model_of_another_account_can_be_deployed(api, bob, echo_version):
    echo_version.model.visibility = "public"
    echo_version.model.save()
    response = post_json(api, "/v1/deployments", _create_body(echo_version), bob)
    assert response.status_code == 200
    assert response.json()["owner"] == "bob" and response.json()["current_release"]["model"] == "alice/echo"


def test_get_and_list(api, alice, deployment, echo_version):
    assert api.get("/v1/deployments/alice/echo-prod", **alice.auth).json() == deployment
    post_json(api, "/v1/deployments", _create_body(echo_version, name="echo-staging"), alice)
    with override_settings(PREDICTIONS_PAGE_SIZE=1):
        first = api.get("/v1/deployments", **alice.auth).json()
        assert [d["name"] for d in first["results"]] == ["echo-staging"]
        second = api.get(first["next"], **alice.auth).json()
    assert second["results"] == [deployment] and second["next"] is None


def test_each_update_is_a_new_release_keeping_what_it_does_not_change(api, alice, deployment, second_version):
    gpu = Hardware.objects.get(sku="gpu-t4")
    first = _patch(api, "/v1/deployments/alice/echo-prod", {"min_instances": 0}, alice)
    assert first.status_code == 200, first.content
    release = first.json()["current_release"]
    assert release["number"] == 2
    assert release["configuration"] == {"hardware": "cpu", "min_instances": 0, "max_instances": 3}
    second = _patch(
        api, "/v1/deployments/alice/echo-prod", {"version": second_version.sha256, "hardware": gpu.sku}, alice
    )
    release = second.json()["current_release"]
    assert (release["number"], release["version"], release["configuration"]["hardware"]) == (3, "b" * 64, "gpu-t4")
    history = DeploymentRelease.objects.filter(deployment__name="echo-prod").order_by("number")
    assert [(r.number, r.min_instances, r.hardware.sku) for r in history] == [
        (1, 1, "cpu"),
        (2, 0, "cpu"),
        (3, 0, "gpu-t4"),
    ]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({}, "body", 400),
        ({"hardware": "nope"}, "hardware", 400),
        ({"max_instances": "3"}, "max_instances", 400),
        ({"version": "f" * 64}, "version", 422),
        ({"min_instances": 5}, "min_instances", 422),  # above the current max of 3
    ],
)
def test_bad_updates_make_no_release(api, alice, deployment, body, field, status):
    response = _patch(api, "/v1/deployments/alice/echo-prod", body, alice)
    assert response.status_code == status, response.content
    assert field in [f["field"] for f in response.json()["invalid_fields"]]
    assert DeploymentRelease.objects.count() == 1


def test_delete_keeps_its_predictions(api, alice, deployment):
    made = post_json(api, "/v1/deployments/alice/echo-prod/predictions", {"input": {"text": "hi"}}, alice).json()
    response = api.delete("/v1/deployments/alice/echo-prod", **alice.auth)
    assert response.status_code == 204
    assert not Deployment.objects.exists()
    prediction = Prediction.objects.get(pk=made["id"])
    assert prediction.deployment is None
    assert "deployment" not in api.get(f"/v1/predictions/{made['id']}", **alice.auth).json()
    assert api.get("/v1/deployments/alice/echo-prod", **alice.auth).status_code == 404


def test_a_prediction_through_a_deployment_runs_its_release_on_its_hardware(
    api, alice, deployment, second_version, django_capture_on_commit_callbacks
):
    _patch(api, "/v1/deployments/alice/echo-prod", {"version": second_version.sha256, "hardware": "gpu-t4"}, alice)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_json(api, "/v1/deployments/alice/echo-prod/predictions", {"input": {"text": "hi"}}, alice)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["model"], body["version"], body["deployment"]) == ("alice/echo", "b" * 64, "alice/echo-prod")
    assert len(callbacks) == 1
    prediction = Prediction.objects.get(pk=body["id"])
    assert prediction.hardware.sku == "gpu-t4" and prediction.deployment.name == "echo-prod"
    assert api.get(f"/v1/predictions/{body['id']}", **alice.auth).json()["deployment"] == "alice/echo-prod"
    # The model's own predictions still run on the model's hardware, and name no deployment.
    plain = post_json(api, "/v1/models/alice/echo/predictions", {"input": {"text": "hi"}}, alice).json()
    assert "deployment" not in plain and Prediction.objects.get(pk=plain["id"]).hardware.sku == "cpu"


def test_a_deployment_prediction_is_validated_against_its_version(api, alice, deployment):
    response = post_json(api, "/v1/deployments/alice/echo-prod/predictions", {"input": {"text": 42}}, alice)
    assert response.status_code == 422
    assert not Prediction.objects.exists()


def test_a_deployment_prediction_is_billed_at_its_release_hardware(api, alice, deployment):
    from inference.worker import records

    _patch(api, "/v1/deployments/alice/echo-prod", {"hardware": "gpu-t4"}, alice)
    made = post_json(api, "/v1/deployments/alice/echo-prod/predictions", {"input": {"text": "hi"}}, alice).json()
    prediction = records.claim(made["id"], now=Prediction.objects.get(pk=made["id"]).created_at)
    assert prediction is not None and prediction.hardware.sku == "gpu-t4"
    prediction.status, prediction.output, prediction.metrics = "succeeded", "hi", {}
    prediction.completed_at = prediction.started_at
    records.record_outcome(prediction, predict_time=2.0)
    record = UsageRecord.objects.get(prediction_id=made["id"])
    gpu = Hardware.objects.get(sku="gpu-t4")
    assert record.hardware == gpu and record.amount == pytest.approx(2 * gpu.price_per_second, abs=1e-6)


# --- ownership: another account's deployment is a 404, and nothing changes -----------------------


def test_another_tenant_cannot_read_it(api, bob, deployment):
    assert api.get("/v1/deployments/alice/echo-prod", **bob.auth).status_code == 404
    assert api.get("/v1/deployments", **bob.auth).json()["results"] == []


def test_another_tenant_cannot_update_it(api, bob, deployment):
    response = _patch(api, "/v1/deployments/alice/echo-prod", {"min_instances": 0}, bob)
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert DeploymentRelease.objects.count() == 1


def test_another_tenant_cannot_delete_it(api, bob, deployment):
    assert api.delete("/v1/deployments/alice/echo-prod", **bob.auth).status_code == 404
    assert Deployment.objects.count() == 1


def test_another_tenant_cannot_run_it_even_on_a_public_model(api, bob, deployment, echo_version):
    echo_version.model.visibility = "public"
    echo_version.model.save()
    response = post_json(api, "/v1/deployments/alice/echo-prod/predictions", {"input": {"text": "hi"}}, bob)
    assert response.status_code == 404
    assert not Prediction.objects.exists()


def test_every_endpoint_needs_a_token(api, deployment):
    for method, path in [
        ("get", "/v1/deployments"),
        ("post", "/v1/deployments"),
        ("get", "/v1/deployments/alice/echo-prod"),
        ("patch", "/v1/deployments/alice/echo-prod"),
        ("delete", "/v1/deployments/alice/echo-prod"),
        ("post", "/v1/deployments/alice/echo-prod/predictions"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == 401, (method, path)
        assert response["Content-Type"] == "application/problem+json"
