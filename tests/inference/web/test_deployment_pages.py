"""The dashboard's deployment pages, in process: list and create, the deployment's page (status,
releases, recent predictions), edit (a new release), delete, and the playground through it."""

import pytest

from hosting.redis_clients import sync_client
from inference.deployments import instances
from inference.deployments.services import deployment_create
from inference.models import Deployment, DeploymentRelease, Prediction
from tests.inference.web.test_views import logged_in


@pytest.fixture
def browser(client, alice):
    return logged_in(client, "alice")


@pytest.fixture
def deployment(alice, echo_version, cpu):
    return deployment_create(
        account=alice.account, name="echo-prod", version=echo_version, hardware=cpu, min_instances=1, max_instances=2
    )


def _form(echo_version, **changes):
    return {
        "name": "echo-prod",
        "model": "alice/echo",
        "version": "",
        "hardware": "cpu",
        "min_instances": "0",
        "max_instances": "2",
        **changes,
    }


def test_create_from_the_list_page(browser, echo_version):
    assert "Create a deployment" in browser.get("/deployments").content.decode()
    response = browser.post("/deployments/new", _form(echo_version))
    assert response.status_code == 302 and response["Location"] == "/deployments/alice/echo-prod"
    release = Deployment.objects.get(name="echo-prod").current_release
    assert release.version == echo_version  # an empty version: the model's latest
    page = browser.get("/deployments").content.decode()
    assert "alice/echo-prod" in page and "0–2" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "alice/nope"}, "There is no model alice/nope"),
        ({"min_instances": "3", "max_instances": "2"}, "must not be more than max_instances"),
        ({"version": "f" * 64}, "has no version"),
        ({"name": "Not A Slug"}, "Enter a valid value"),
    ],
)
def test_a_refused_create_shows_why_and_creates_nothing(browser, echo_version, changes, message):
    response = browser.post("/deployments/new", _form(echo_version, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Deployment.objects.exists()


def test_the_deployment_page_shows_status_releases_and_recent_predictions(browser, deployment, echo_version, alice):
    sync_client().delete(*sync_client().keys("hearth:worker:*") or ["none"])
    instances.report(worker="w1", hardware=["cpu"], runners={echo_version.sha256: "busy"})
    instances.report(worker="w2", hardware=["cpu"], runners={echo_version.sha256: "warm"})
    made = Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, deployment=deployment
    )
    page = browser.get("/deployments/alice/echo-prod").content.decode()
    assert 'data-testid="instances-warm">1<' in page and 'data-testid="instances-busy">1<' in page
    assert 'data-testid="queue-queued">1<' in page
    assert made.id in page
    assert 'action="/deployments/alice/echo-prod/predictions"' in page  # the playground runs through it
    assert "release #1" in page


def test_edit_makes_a_new_release(browser, deployment, echo_version):
    response = browser.post(
        "/deployments/alice/echo-prod/edit",
        {"version": echo_version.sha256, "hardware": "gpu-t4", "min_instances": "0", "max_instances": "4"},
    )
    assert response.status_code == 302
    release = Deployment.objects.get().current_release
    assert (release.number, release.hardware.sku, release.max_instances) == (2, "gpu-t4", 4)
    assert "release #2" in browser.get("/deployments/alice/echo-prod").content.decode()


def test_a_refused_edit_makes_no_release(browser, deployment, echo_version):
    response = browser.post(
        "/deployments/alice/echo-prod/edit",
        {"version": echo_version.sha256, "hardware": "cpu", "min_instances": "5", "max_instances": "4"},
    )
    assert response.status_code == 400 and "must not be more than" in response.content.decode()
    assert DeploymentRelease.objects.count() == 1


def test_the_playground_runs_through_the_deployment(browser, deployment, echo_version):
    response = browser.post("/deployments/alice/echo-prod/predictions", {"text": "hi"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 201, response.content
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert prediction.deployment == deployment and prediction.source == "web"


def test_the_cache_setting_is_saved_without_a_release_and_applies_to_its_predictions(
    browser, deployment, echo_version, alice
):
    from inference import prediction_cache
    from inference.models import Model

    Model.objects.filter(pk=echo_version.model_id).update(cache_policy="deterministic")
    assert 'data-testid="deployment-cache"' in browser.get("/deployments/alice/echo-prod").content.decode()
    response = browser.post("/deployments/alice/echo-prod/cache", {"cache_predictions": "on"})
    assert response.status_code == 302 and response["Location"].endswith("/deployments/alice/echo-prod#cache")
    deployment.refresh_from_db()
    assert deployment.cache_predictions and DeploymentRelease.objects.count() == 1
    first = browser.post("/deployments/alice/echo-prod/predictions", {"text": "hi"}, HTTP_ACCEPT="application/json")
    made = Prediction.objects.get(pk=first.json()["id"])
    Prediction.objects.filter(pk=made.pk).update(status="succeeded", output="hi")
    prediction_cache.remember(made.id, made.cache_key)
    again = browser.post("/deployments/alice/echo-prod/predictions", {"text": "hi"}, HTTP_ACCEPT="application/json")
    assert Prediction.objects.get(pk=again.json()["id"]).cached_from_id == made.id

    browser.post("/deployments/alice/echo-prod/cache", {})
    deployment.refresh_from_db()
    assert not deployment.cache_predictions


def test_delete(browser, deployment):
    assert browser.post("/deployments/alice/echo-prod/delete").status_code == 302
    assert not Deployment.objects.exists()


def test_another_tenants_deployment_pages_are_404_and_change_nothing(client, bob, deployment):
    logged_in(client, "bob")
    assert client.get("/deployments/alice/echo-prod").status_code == 404
    assert "echo-prod" not in client.get("/deployments").content.decode()
    assert client.post("/deployments/alice/echo-prod/edit", {"min_instances": "0"}).status_code == 404
    assert client.post("/deployments/alice/echo-prod/delete").status_code == 404
    assert client.post("/deployments/alice/echo-prod/cache", {"cache_predictions": "on"}).status_code == 404
    assert not Deployment.objects.get().cache_predictions
    assert client.post("/deployments/alice/echo-prod/predictions", {"text": "x"}).status_code == 404
    assert Deployment.objects.count() == 1 and DeploymentRelease.objects.count() == 1
    assert not Prediction.objects.exists()


def test_the_pages_need_a_sign_in(client, deployment):
    for path in ("/deployments", "/deployments/alice/echo-prod"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response["Location"]
