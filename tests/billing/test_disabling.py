"""Models and versions disabled by the operators refuse new predictions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import DisabledModel, DisabledVersion
from inference import selectors
from inference.models import Prediction


def _create_by_model(api, persona):
    return api.post("/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **persona.auth)


def _create_by_version(api, persona, version_id):
    return api.post(
        "/v1/predictions", data={"version": version_id, "input": {}}, content_type="application/json", **persona.auth
    )


def _assert_disabled(response, what: str) -> None:
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Model disabled"
    assert body["detail"].startswith(what) and "Reason: abuse report #12" in body["detail"]


def test_a_disabled_model_refuses_new_predictions_by_name_and_by_version(api, alice, echo_version):
    DisabledModel.objects.create(model=echo_version.model, reason="abuse report #12")
    _assert_disabled(_create_by_model(api, alice), "The model alice/echo has been disabled")
    _assert_disabled(_create_by_version(api, alice, echo_version.sha256), "The model alice/echo has been disabled")
    assert not Prediction.objects.exists()


def test_a_disabled_version_refuses_only_itself(api, alice, echo_version):
    DisabledVersion.objects.create(version=echo_version, reason="abuse report #12")
    _assert_disabled(_create_by_version(api, alice, echo_version.sha256), "This version of alice/echo")
    _assert_disabled(_create_by_model(api, alice), "This version of alice/echo")  # it is the latest
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("stop", ["model", "version"])
def test_enabling_again_lets_predictions_through(api, alice, echo_version, stop):
    if stop == "model":
        DisabledModel.objects.create(model=echo_version.model)
    else:
        DisabledVersion.objects.create(version=echo_version)
    assert _create_by_version(api, alice, echo_version.sha256).status_code == 409
    DisabledModel.objects.all().delete()
    DisabledVersion.objects.all().delete()
    selectors._versions_by_id.clear()  # what MODEL_CACHE_SECONDS does on its own
    assert _create_by_version(api, alice, echo_version.sha256).status_code == 201


@pytest.mark.parametrize("by", ["model", "version"])
def test_the_checks_add_no_query_to_a_warm_create(api, alice, echo_version, by):
    """With the token and the model (or version) cached, creating a prediction is one INSERT,
    disabled checks included (their rows ride along with the cached model)."""

    def create(api, alice):
        return _create_by_model(api, alice) if by == "model" else _create_by_version(api, alice, echo_version.sha256)

    assert create(api, alice).status_code == 201  # warms the caches
    with CaptureQueriesContext(connection) as captured:
        assert create(api, alice).status_code == 201
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]  # the test's transaction
    assert len(statements) == 1 and statements[0].startswith('INSERT INTO "inference_prediction"')
