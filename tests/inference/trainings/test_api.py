"""/v1 trainings in-process: create (version, destination and input checks), list, get, cancel,
and tenant isolation. The worker is not running here; tests/e2e/test_trainings.py runs them."""

import json
from decimal import Decimal
from unittest import mock

import pytest

from accounts.models import Account
from inference import cancellation
from inference.models import Model, Prediction, Version
from inference.runtime.schema import generate_openapi_schema, load_predictor
from tests.conftest import FIXTURE_MODELS

TRAINABLE = FIXTURE_MODELS / "trainable"
DATA = "data:text/plain;base64,YWhveQo="  # "ahoy\n"


@pytest.fixture(scope="module")
def trainable_schema() -> dict:
    return generate_openapi_schema(
        load_predictor(TRAINABLE, "predict.py:Predictor"), load_predictor(TRAINABLE, "train.py:Trainer")
    )


@pytest.fixture
def base(alice, cpu, trainable_schema) -> Version:
    """alice's trainable model (registered directly: nothing runs here)."""
    model = Model.objects.create(owner=alice.account, name="greeter", hardware=cpu, visibility="public")
    version = Version.objects.create(
        model=model,
        sha256="b" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=trainable_schema,
        cog_version="0.23.1",
        config={"train": "train.py:Trainer"},
        package="packages/none.tar.gz",
    )
    model.latest_version = version
    model.save()
    return version


@pytest.fixture
def destination(alice, cpu) -> Model:
    return Model.objects.create(owner=alice.account, name="greeter-tuned", hardware=cpu)


def post_json(api, path, body, persona):
    return api.post(path, data=json.dumps(body), content_type="application/json", **persona.auth)


TRAIN_URL = "/v1/models/alice/greeter/versions/" + "b" * 64 + "/trainings"


def create(api, persona, *, destination="alice/greeter-tuned", input=None, **fields):
    body = {"destination": destination, "input": {"train_data": DATA} if input is None else input, **fields}
    return post_json(api, TRAIN_URL, body, persona)


def test_it_creates_a_training_queued_on_the_models_hardware(
    api, alice, base, destination, django_capture_on_commit_callbacks
):
    with (
        mock.patch("inference.enqueue.app.send_task") as send_task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = create(api, alice, input={"train_data": DATA, "epochs": 2})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "starting"
    assert body["model"] == "alice/greeter"
    assert body["version"] == base.sha256
    assert body["destination"] == "alice/greeter-tuned"
    assert body["input"] == {"train_data": DATA, "epochs": 2}
    assert body["output"] is None and body["error"] is None and body["logs"] == ""
    assert body["urls"]["get"] == f"http://testserver/v1/trainings/{body['id']}"
    assert body["urls"]["cancel"] == f"http://testserver/v1/trainings/{body['id']}/cancel"
    training = Prediction.objects.get(id=body["id"])
    assert training.kind == Prediction.Kind.TRAINING and training.destination == destination
    # Queued like a prediction, on its SKU's queue; no passing to a worker where it is warm.
    send_task.assert_called_once()
    assert send_task.call_args.kwargs["queue"] == "cpu"
    assert send_task.call_args.kwargs["kwargs"]["version"] is None


def test_trainings_are_listed_apart_from_predictions(api, alice, base, destination):
    training_id = create(api, alice).json()["id"]
    prediction = post_json(api, "/v1/models/alice/greeter/predictions", {"input": {"name": "x"}}, alice).json()

    trainings = api.get("/v1/trainings", **alice.auth).json()
    predictions = api.get("/v1/predictions", **alice.auth).json()

    assert [t["id"] for t in trainings["results"]] == [training_id]
    assert trainings["next"] is None and trainings["previous"] is None
    assert [p["id"] for p in predictions["results"]] == [prediction["id"]]
    assert api.get(f"/v1/trainings/{prediction['id']}", **alice.auth).status_code == 404
    assert api.get(f"/v1/trainings/{training_id}", **alice.auth).json()["destination"] == "alice/greeter-tuned"


def test_the_trainings_list_pages_with_cursors(api, alice, base, destination, settings):
    settings.PREDICTIONS_PAGE_SIZE = 2
    made = [create(api, alice).json()["id"] for _ in range(3)]

    first = api.get("/v1/trainings", **alice.auth).json()
    second = api.get(first["next"], **alice.auth).json()

    assert [t["id"] for t in first["results"] + second["results"]] == made[::-1]
    assert second["next"] is None


def test_cancel_of_a_queued_training(api, alice, base, destination):
    training_id = create(api, alice).json()["id"]

    response = api.post(f"/v1/trainings/{training_id}/cancel", **alice.auth)

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert Prediction.objects.get(id=training_id).status == "canceled"


def test_cancel_of_a_running_training_asks_its_worker(api, alice, base, destination):
    training_id = create(api, alice).json()["id"]
    Prediction.objects.filter(id=training_id).update(status="processing")

    with mock.patch.object(cancellation, "request_cancel") as request_cancel:
        response = api.post(f"/v1/trainings/{training_id}/cancel", **alice.auth)

    assert response.status_code == 200
    request_cancel.assert_called_once_with(training_id)


# --- what is refused --------------------------------------------------------------------------


@pytest.mark.parametrize("destination", ["greeter-tuned", "alice/", "a/b/c", "alice greeter"])
def test_a_malformed_destination_is_422_naming_it(api, alice, base, destination):
    response = create(api, alice, destination=destination)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["invalid_fields"][0]["field"] == "destination"
    assert not Prediction.objects.exists()


def test_a_missing_destination_is_404_as_replicate_answers(api, alice, base):
    response = create(api, alice, destination="alice/nothing-here")

    assert response.status_code == 404
    assert response.json()["detail"] == "The specified training destination does not exist"
    assert not Prediction.objects.exists()


def test_no_destination_at_all_is_a_400(api, alice, base, destination):
    response = post_json(api, TRAIN_URL, {"input": {"train_data": DATA}}, alice)

    assert response.status_code == 400
    assert response.json()["invalid_fields"][0]["field"] == "destination"


def test_bad_training_input_is_422_naming_each_field(api, alice, base, destination):
    response = create(api, alice, input={"epochs": 0, "style": "whisper"})

    assert response.status_code == 422
    fields = {field["field"] for field in response.json()["invalid_fields"]}
    assert fields == {"input.train_data", "input.epochs", "input.style"}
    assert not Prediction.objects.exists()


def test_a_version_without_train_cannot_be_trained(api, alice, base, destination):
    Version.objects.filter(pk=base.pk).update(config={})

    response = create(api, alice)

    assert response.status_code == 422
    assert response.json()["invalid_fields"][0]["field"] == "version"


def test_an_unknown_version_is_404(api, alice, base, destination):
    response = post_json(api, TRAIN_URL.replace("b" * 64, "c" * 64), {"destination": "alice/greeter-tuned"}, alice)

    assert response.status_code == 404


def test_webhook_completed_alone_is_a_webhook_for_completed(api, alice, base, destination, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    response = create(api, alice, webhook_completed="http://127.0.0.1:9/done")

    assert response.status_code == 201, response.content
    training = Prediction.objects.get(id=response.json()["id"])
    assert training.webhook == "http://127.0.0.1:9/done"
    assert training.webhook_events_filter == ["completed"]


# --- tenant isolation -------------------------------------------------------------------------


def test_another_tenant_cannot_train_into_a_model_it_does_not_own(api, bob, base, destination):
    # bob may run alice's public greeter, so the version is his to train; the destination is not.
    response = create(api, bob, destination="alice/greeter-tuned")

    assert response.status_code == 404
    assert response.json()["detail"] == "The specified training destination does not exist"
    assert not Prediction.objects.exists()
    destination.refresh_from_db()
    assert destination.latest_version is None


def test_another_tenant_cannot_see_or_cancel_a_training(api, alice, bob, base, destination):
    training_id = create(api, alice).json()["id"]

    assert api.get(f"/v1/trainings/{training_id}", **bob.auth).status_code == 404
    assert api.post(f"/v1/trainings/{training_id}/cancel", **bob.auth).status_code == 404
    assert api.get("/v1/trainings", **bob.auth).json()["results"] == []
    assert Prediction.objects.get(id=training_id).status == "starting"


def test_another_tenants_private_version_cannot_be_trained(api, bob, base, cpu):
    Model.objects.filter(pk=base.model_id).update(visibility="private")
    Model.objects.create(owner=bob.account, name="mine", hardware=cpu)

    response = create(api, bob, destination="bob/mine")

    assert response.status_code == 404
    assert not Prediction.objects.exists()


def test_cancel_after_gives_a_training_a_deadline(api, alice, base, destination):
    body = {"destination": "alice/greeter-tuned", "input": {"train_data": DATA}}
    response = api.post(
        TRAIN_URL, data=json.dumps(body), content_type="application/json", HTTP_CANCEL_AFTER="1h30m", **alice.auth
    )

    assert response.status_code == 201, response.content
    training = Prediction.objects.get(id=response.json()["id"])
    assert 5390 < (training.deadline - training.created_at).total_seconds() <= 5400
    assert create(api, alice).status_code == 201
    assert Prediction.objects.filter(deadline__isnull=True).count() == 1  # none by default


def test_an_aborted_training_reads_as_canceled_to_the_official_clients(api, alice, base, destination):
    training_id = create(api, alice).json()["id"]
    Prediction.objects.filter(id=training_id).update(status="aborted")

    seen_by_client = api.get(f"/v1/trainings/{training_id}", HTTP_USER_AGENT="replicate-python/1.0.7", **alice.auth)

    assert seen_by_client.json()["status"] == "canceled"


def test_a_training_is_admitted_against_the_spending_limit_like_a_prediction(api, alice, base, destination):
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0.001"))

    response = create(api, alice)

    assert response.status_code == 402
    assert response.json()["title"] == "You have reached your spending limit"
    assert not Prediction.objects.exists()

    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("10"))
    training = Prediction.objects.get(id=create(api, alice).json()["id"])
    assert training.reserved_seconds  # held against the limit while it runs, as a prediction's is
