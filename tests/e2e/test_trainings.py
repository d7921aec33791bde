"""Trainings on the real worker, through the unmodified Python client: a version's cog.yaml
`train:` runs like a prediction (logs, cancel, billing per second, webhooks) and its weights
become a new version of the destination, which runs like any other.

The fast cases use tests/fixtures/models/trainable, whose training "learns" a greeting; the
zoo's LoRA fine-tune of the text-generation model is in test_zoo_training.py."""

import json
import re
import time

import httpx
import pytest
from replicate.exceptions import ReplicateError

from billing.models import UsageRecord
from inference.models import Prediction
from tests.conftest import FIXTURE_MODELS
from tests.e2e.test_webhooks import Receiver
from tests.live_platform import _push

pytestmark = pytest.mark.e2e

BASE = "alice/trainable"


@pytest.fixture(scope="module")
def base_version(platform, django_db_blocker) -> str:
    """Public: bob may run it, and train it, but only into a model of his own."""
    with django_db_blocker.unblock():
        return _push(FIXTURE_MODELS / "trainable", BASE, visibility="public")


@pytest.fixture(scope="module")
def destination(platform) -> str:
    """A model of alice's with no version yet, made through the API as the client does."""
    platform.client().models.create(owner="alice", name="trainable-tuned", visibility="private", hardware="cpu")
    return "alice/trainable-tuned"


@pytest.fixture
def greeting_file(tmp_path):
    path = tmp_path / "greeting.txt"
    path.write_text("ahoy\n")
    return path


def wait_until(training, statuses, timeout=60.0, logs: str | None = None):
    """Reload until the training reaches one of `statuses` (or its logs hold `logs`)."""
    deadline = time.monotonic() + timeout
    while training.status not in statuses and (logs is None or logs not in (training.logs or "")):
        assert time.monotonic() < deadline, f"still {training.status}: {training.logs!r}"
        time.sleep(0.2)
        training.reload()
    return training


def versions_of(platform, name: str) -> list[str]:
    return [version.id for version in platform.client().models.get(name).versions.list()]


def test_a_training_makes_a_version_that_runs_with_the_trained_weights(
    platform, base_version, destination, greeting_file, django_db_blocker
):
    client = platform.client()
    with greeting_file.open("rb") as data:  # the client uploads it with POST /v1/files
        training = client.trainings.create(
            version=f"{BASE}:{base_version}", input={"train_data": data, "epochs": 3}, destination=destination
        )
    assert (training.status, training.destination, training.model) == ("starting", destination, BASE)

    wait_until(training, {"succeeded", "failed", "canceled"})

    assert training.status == "succeeded", training.error
    version_id = training.output["version"].rsplit(":", 1)[1]
    assert training.output["version"] == f"{destination}:{version_id}"
    assert training.destination == destination  # the client parses it from output.version
    losses = [float(loss) for loss in re.findall(r"epoch \d+ loss ([0-9.]+)", training.logs)]
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)
    weights = httpx.get(training.output["weights"], headers={"Authorization": f"Bearer {platform.alice.plaintext}"})
    assert weights.content == b"ahoy"

    # The new version is the destination's, listed and run like any other; the base is unchanged.
    assert versions_of(platform, destination) == [version_id]
    assert client.models.get(destination).latest_version.id == version_id
    assert client.run(f"{destination}:{version_id}", input={"name": "Ada"}) == "ahoy, Ada"
    assert client.run(f"{BASE}:{base_version}", input={"name": "Ada"}) == "hello, Ada"

    # Billed per second like a prediction; listed with trainings, not with predictions.
    document = httpx.get(training.urls["get"], headers={"Authorization": f"Bearer {platform.alice.plaintext}"}).json()
    assert document["metrics"]["predict_time"] > 0 and float(document["metrics"]["cost"]) >= 0
    with django_db_blocker.unblock():
        assert UsageRecord.objects.filter(prediction_id=training.id).exists()
        assert Prediction.objects.get(id=training.id).trained_version.sha256 == version_id
    assert training.id in [t.id for t in client.trainings.list().results]
    assert training.id not in [p.id for p in client.predictions.list().results]

    # The same weights from the same version make the same version: its id is content-derived.
    with greeting_file.open("rb") as data:
        again = client.trainings.create(
            version=f"{BASE}:{base_version}", input={"train_data": data, "epochs": 1}, destination=destination
        )
    wait_until(again, {"succeeded", "failed", "canceled"})
    assert again.output["version"] == training.output["version"]
    assert versions_of(platform, destination) == [version_id]


def test_cancel_mid_training_bills_the_time_used_and_makes_no_version(
    platform, base_version, destination, greeting_file, django_db_blocker
):
    client = platform.client()
    before = versions_of(platform, destination)
    with greeting_file.open("rb") as data:
        training = client.trainings.create(
            version=f"{BASE}:{base_version}",
            input={"train_data": data, "epochs": 200, "seconds_per_epoch": 0.3},
            destination=destination,
        )
    wait_until(training, {"succeeded", "failed", "canceled"}, logs="epoch 2 loss")

    canceled = client.trainings.cancel(training.id)
    assert canceled.id == training.id
    wait_until(training, {"succeeded", "failed", "canceled"}, timeout=20)

    assert training.status == "canceled"
    assert training.output is None
    with django_db_blocker.unblock():
        record = UsageRecord.objects.get(prediction_id=training.id)
        assert record.seconds >= 0.6  # two epochs and more ran
        assert Prediction.objects.get(id=training.id).trained_version is None
    assert versions_of(platform, destination) == before


def test_a_training_whose_train_raises_fails_with_its_message_and_makes_no_version(
    platform, base_version, destination, greeting_file
):
    client = platform.client()
    before = versions_of(platform, destination)
    with greeting_file.open("rb") as data:
        training = client.trainings.create(
            version=f"{BASE}:{base_version}", input={"train_data": data, "fail": True}, destination=destination
        )
    wait_until(training, {"succeeded", "failed", "canceled"})

    assert training.status == "failed"
    assert training.error == "the loss diverged at epoch 2"
    assert "epoch 1 loss" in training.logs and "ValueError" in training.logs
    assert training.output is None
    assert versions_of(platform, destination) == before


def test_webhooks_carry_the_training(platform, base_version, destination, greeting_file):
    receiver = Receiver()
    try:
        client = platform.client()
        with greeting_file.open("rb") as data:
            training = client.trainings.create(
                version=f"{BASE}:{base_version}",
                input={"train_data": data, "epochs": 1},
                destination=destination,
                webhook=receiver.url("/training"),
                webhook_events_filter=["start", "completed"],
            )
        receiver.wait_for_status("/training", "succeeded")
        bodies = [json.loads(request["body"]) for request in receiver.requests["/training"]]
        assert [body["status"] for body in bodies] == ["processing", "succeeded"]
        assert bodies[-1]["id"] == training.id and bodies[-1]["destination"] == destination
        assert bodies[-1]["output"]["version"].startswith(f"{destination}:")
    finally:
        receiver.server.shutdown()


def test_another_tenant_can_neither_see_cancel_nor_train_into_alices_models(
    platform, base_version, destination, greeting_file, django_db_blocker
):
    alice, bob = platform.client(), platform.client(platform.bob)
    with greeting_file.open("rb") as data:
        training = alice.trainings.create(
            version=f"{BASE}:{base_version}",
            input={"train_data": data, "epochs": 50, "seconds_per_epoch": 0.2},
            destination=destination,
        )
    before = versions_of(platform, destination)

    for call in (lambda: bob.trainings.get(training.id), lambda: bob.trainings.cancel(training.id)):
        with pytest.raises(ReplicateError) as raised:
            call()
        assert raised.value.status == 404
    assert training.id not in [t.id for t in bob.trainings.list().results]
    # alice's base is public, so bob may train it, but not into her model.
    with greeting_file.open("rb") as data, pytest.raises(ReplicateError) as raised:
        bob.trainings.create(version=f"{BASE}:{base_version}", input={"train_data": data}, destination=destination)
    assert raised.value.status == 404
    assert "destination does not exist" in str(raised.value)
    with django_db_blocker.unblock():
        assert not Prediction.objects.filter(account=platform.bob.account, kind="training").exists()

    training.reload()
    assert training.status in {"starting", "processing"}  # bob's cancel changed nothing
    alice.trainings.cancel(training.id)
    wait_until(training, {"succeeded", "failed", "canceled"}, timeout=20)
    assert versions_of(platform, destination) == before


def test_a_bad_destination_or_input_is_a_422(platform, base_version, destination, greeting_file):
    client = platform.client()
    with pytest.raises(ReplicateError) as raised:
        client.trainings.create(version=f"{BASE}:{base_version}", input={"epochs": 2}, destination="no-slash")
    assert raised.value.status == 422
    with pytest.raises(ReplicateError) as raised:
        client.trainings.create(version=f"{BASE}:{base_version}", input={"epochs": 0}, destination=destination)
    assert raised.value.status == 422
    assert "train_data is required" in str(raised.value)
    with pytest.raises(ReplicateError) as raised:
        client.trainings.create(version=f"{BASE}:{base_version}", input={"epochs": 2}, destination="alice/nowhere")
    assert raised.value.status == 404


def test_cancel_after_stops_a_training_at_its_deadline(platform, base_version, destination, greeting_file):
    # The Python client has no way to send the header: plain HTTP, as curl would.
    upload = platform.client().files.create(greeting_file)
    response = httpx.post(
        f"{platform.url}/v1/models/{BASE}/versions/{base_version}/trainings",
        headers={"Authorization": f"Bearer {platform.alice.plaintext}", "Cancel-After": "5s"},
        json={
            "destination": destination,
            "input": {"train_data": upload.urls["get"], "epochs": 200, "seconds_per_epoch": 0.5},
        },
    )
    assert response.status_code == 201, response.text
    training = platform.client().trainings.get(response.json()["id"])
    wait_until(training, {"succeeded", "failed", "canceled"}, timeout=30)

    assert training.status == "canceled"
    assert "epoch 1 loss" in training.logs and training.output is None
