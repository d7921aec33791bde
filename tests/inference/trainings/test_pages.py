"""The dashboard's side of trainings: a training's page (the prediction page, its logs streaming)
says where it trains into and links the version it made; that version, in its model's version
list, links back to the training for the account that ran it, and for no one else."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.models import Model, Prediction, Version
from inference.runtime.schema import generate_openapi_schema, load_predictor
from tests.inference.trainings.test_api import TRAINABLE

PASSWORD = "correct horse 9"  # tests.conftest.make_persona's


@pytest.fixture
def made(alice, cpu):
    base_model = Model.objects.create(owner=alice.account, name="greeter", hardware=cpu)
    base = Version.objects.create(
        model=base_model,
        sha256="b" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema={"components": {"schemas": {"Input": {"properties": {}}, "Output": {"type": "string"}}}},
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )
    destination = Model.objects.create(owner=alice.account, name="greeter-tuned", hardware=cpu, visibility="public")
    trained = Version.objects.create(
        model=destination,
        sha256="c" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=base.openapi_schema,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
        config={"trained_weights": ".cog/weights/greeting.txt"},
    )
    destination.latest_version = trained
    destination.save()
    training = Prediction.objects.create(
        account=alice.account,
        model=base_model,
        version=base,
        kind=Prediction.Kind.TRAINING,
        destination=destination,
        trained_version=trained,
        status=Prediction.Status.SUCCEEDED,
        logs="epoch 1 loss 1.0000\n",
    )
    return training


def test_a_trainings_page_links_the_version_it_made(client, made):
    client.login(username="alice", password=PASSWORD)

    page = client.get(f"/p/{made.id}").content.decode()

    assert f'Training <span class="mono">{made.id}</span>' in page
    assert 'href="/alice/greeter-tuned"' in page
    assert f'href="/alice/greeter-tuned?version={"c" * 64}"' in page
    assert "epoch 1 loss 1.0000" in page


def test_the_version_links_back_to_its_training_for_its_owner_only(client, made, bob):
    client.login(username="alice", password=PASSWORD)
    assert f'href="/p/{made.id}" data-testid="made-by-training"' in client.get("/alice/greeter-tuned").content.decode()

    client.logout()
    client.login(username="bob", password=PASSWORD)
    page = client.get("/alice/greeter-tuned")  # public: bob sees the model and the version
    assert page.status_code == 200 and "c" * 64 in page.content.decode()
    assert made.id not in page.content.decode()


# --- the Train tab ------------------------------------------------------------------------------


@pytest.fixture
def trainable(alice, cpu):
    """alice's greeter, whose version has the trainable fixture's schema, and her destination."""
    schema = generate_openapi_schema(
        load_predictor(TRAINABLE, "predict.py:Predictor"), load_predictor(TRAINABLE, "train.py:Trainer")
    )
    model = Model.objects.create(owner=alice.account, name="greeter", hardware=cpu)
    version = Version.objects.create(
        model=model,
        sha256="b" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=schema,
        cog_version="0.23.1",
        config={"train": "train.py:Trainer"},
        package="packages/none.tar.gz",
    )
    model.latest_version = version
    model.save()
    Model.objects.create(owner=alice.account, name="greeter-tuned", hardware=cpu)
    return model


def test_a_trainable_models_page_has_a_train_tab_with_a_form_from_its_training_schema(client, trainable):
    client.login(username="alice", password=PASSWORD)

    assert 'href="/alice/greeter/train" data-testid="train-tab"' in client.get("/alice/greeter").content.decode()
    page = client.get("/alice/greeter/train").content.decode()
    assert 'enctype="multipart/form-data"' in page  # train_data is a file
    assert 'name="train_data"' in page and 'name="epochs"' in page and 'name="style"' in page
    assert '<option value="alice/greeter-tuned"' in page


def test_the_train_form_starts_a_training_and_shows_its_page(client, trainable, django_capture_on_commit_callbacks):
    client.login(username="alice", password=PASSWORD)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/alice/greeter/train",
            {
                "destination": "alice/greeter-tuned",
                "train_data": SimpleUploadedFile("greeting.txt", b"ahoy\n", content_type="text/plain"),
                "epochs": "2",
                "style": "shout",
            },
        )

    training = Prediction.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/p/{training.id}"
    assert len(callbacks) == 1  # queued after commit
    assert (training.kind, training.source, training.destination.name) == ("training", "web", "greeter-tuned")
    assert training.input["epochs"] == 2 and training.input["train_data"].startswith("data:text/plain;base64,")
    assert training.id in client.get("/trainings").content.decode()


def test_the_train_form_shows_each_error_beside_its_field(client, trainable, bob):
    client.login(username="alice", password=PASSWORD)

    response = client.post("/alice/greeter/train", {"destination": "bob/nothing", "epochs": "0"})

    assert response.status_code == 422
    page = response.content.decode()
    assert "train_data is required" in page and "epochs must be greater than or equal to 1" in page
    assert not Prediction.objects.exists()

    greeting = SimpleUploadedFile("greeting.txt", b"ahoy\n", content_type="text/plain")
    response = client.post("/alice/greeter/train", {"destination": "bob/nothing", "train_data": greeting})
    assert response.status_code == 422
    assert "The specified training destination does not exist" in response.content.decode()
    assert not Prediction.objects.exists()


def test_a_model_that_cannot_be_trained_has_no_train_page(client, made):
    client.login(username="alice", password=PASSWORD)
    assert client.get("/alice/greeter/train").status_code == 404
    assert 'data-testid="train-tab"' not in client.get("/alice/greeter").content.decode()
