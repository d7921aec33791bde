"""What pushing reads of cog.yaml `train:`, and what a succeeded training makes: its weights
stored once, a version of the destination (content-derived id, the base's package and
predictor) whose runner gets the weights in COG_WEIGHTS, placed in its project."""

import hashlib
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from inference.files.outputs import OutputFileError, OutputFiles
from inference.models import Model, Prediction
from inference.registry.packaging import PackageError, read_cog_config
from inference.trainings import services as training_services
from tests.conftest import FIXTURE_MODELS

TRAINABLE = FIXTURE_MODELS / "trainable"


def push(directory, ref) -> str:
    out = StringIO()
    call_command("push", str(directory), ref, stdout=out, stderr=StringIO())
    return out.getvalue().strip().rsplit(":", 1)[1]


@pytest.fixture
def base(alice):
    push(TRAINABLE, "alice/greeter")
    return Model.objects.get(name="greeter").latest_version


@pytest.fixture
def training(alice, base) -> Prediction:
    destination = Model.objects.create(owner=alice.account, name="greeter-tuned", hardware=base.model.hardware)
    return Prediction.objects.create(
        account=alice.account,
        model=base.model,
        version=base,
        kind=Prediction.Kind.TRAINING,
        destination=destination,
        status=Prediction.Status.PROCESSING,
        input={"train_data": "x"},
    )


def test_push_reads_train_and_puts_the_training_schema_in_the_version(base):
    assert base.config["train"] == "train.py:Trainer"
    assert base.trainable
    schemas = base.openapi_schema["components"]["schemas"]
    assert {"TrainingInput", "TrainingOutput", "TrainingRequest", "TrainingResponse"} <= schemas.keys()
    assert "/trainings" in base.openapi_schema["paths"]


def test_a_version_without_train_has_no_training_schema(alice):
    push(FIXTURE_MODELS / "sleeper", "alice/sleeper")
    version = Model.objects.get(name="sleeper").latest_version
    assert "train" not in version.config and not version.trainable
    assert "TrainingInput" not in version.openapi_schema["components"]["schemas"]


@pytest.mark.parametrize("value", ["train.py", "42", "[train.py]"])
def test_a_train_entry_that_names_no_trainer_is_refused_naming_the_key(tmp_path, value):
    shutil.copytree(TRAINABLE, tmp_path / "model")
    (tmp_path / "model" / "cog.yaml").write_text(f'predict: "predict.py:Predictor"\ntrain: {value}\n')
    with pytest.raises(PackageError) as refused:
        read_cog_config(tmp_path / "model")
    assert refused.value.field == "train"


def test_a_trainer_that_cannot_be_read_refuses_the_push(alice, tmp_path):
    shutil.copytree(TRAINABLE, tmp_path / "model")
    (tmp_path / "model" / "train.py").write_text("from cog import Path\ndef train(n: int) -> str:\n    return ''\n")
    (tmp_path / "model" / "cog.yaml").write_text('predict: "predict.py:Predictor"\ntrain: "train.py:train"\n')
    with pytest.raises(CommandError, match=r"Could not read the trainer train.py:train: .*must return a cog.Path"):
        push(tmp_path / "model", "alice/broken")
    assert not Model.objects.filter(name="broken", versions__isnull=False).exists()


def test_the_trained_version_runs_the_base_predictor_with_the_weights(training, base, tmp_path):
    weights = tmp_path / "greeting.txt"
    weights.write_text("ahoy")

    version = training_services.trained_version_create(training=training, weights=weights)

    record = version.config["weights"][-1]
    assert (record["sha256"], record["size"]) == (hashlib.sha256(b"ahoy").hexdigest(), 4)
    assert default_storage.open(record["object"]).read() == b"ahoy"  # stored once, by digest
    assert version.sha256 == training_services.trained_version_id(base, record["sha256"], record["target"])
    assert version.sha256 not in (base.sha256, record["sha256"])
    assert version.model == training.destination
    assert (version.predictor_ref, version.package.name) == (base.predictor_ref, base.package.name)
    assert version.openapi_schema == base.openapi_schema
    assert version.config["trained_weights"] == ".cog/weights/greeting.txt"
    training.destination.refresh_from_db()
    assert training.destination.latest_version == version
    assert Prediction.objects.get(pk=training.pk).trained_version == version
    # The same weights again: the same version, not a second one.
    again = training_services.trained_version_create(training=training, weights=weights)
    assert again.pk == version.pk and training.destination.versions.count() == 1


def test_the_trained_versions_runner_gets_its_weights_as_cog_weights(training, tmp_path):
    from inference.worker import execution

    weights = tmp_path / "greeting.txt"
    weights.write_text("ahoy")
    version = training_services.trained_version_create(training=training, weights=weights)

    spec = execution._runner_spec(version)

    placed = Path(spec.env["COG_WEIGHTS"])
    assert placed == spec.project_dir / ".cog" / "weights" / "greeting.txt"
    assert placed.read_text() == "ahoy"


def test_the_output_names_the_version_as_owner_name_id_and_links_the_weights(training, tmp_path):
    directory = tmp_path / "outputs"
    (directory / "0").mkdir(parents=True)
    (directory / "0" / "greeting.txt").write_text("ahoy")
    output = {"weights": str(directory / "0" / "greeting.txt")}

    result = training_services.training_output(
        training=training, output=output, outputs=OutputFiles(training, directory)
    )

    version = Prediction.objects.get(pk=training.pk).trained_version
    assert result["version"] == f"alice/greeter-tuned:{version.sha256}"
    assert result["weights"].startswith("http") and "/v1/files/" in result["weights"]


@pytest.mark.parametrize("output", [None, {"loss": 1.0}, "/etc/passwd", {"weights": "data:,x"}])
def test_an_output_without_a_weights_file_fails_the_training(training, tmp_path, output):
    with pytest.raises(OutputFileError):
        training_services.training_output(training=training, output=output, outputs=OutputFiles(training, tmp_path))
    assert training.destination.versions.count() == 0


def test_weights_of_another_name_make_another_version(training, tmp_path):
    # Workers unpack a version once per id, so one id must mean one path for its weights.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "adapter.tar").write_text("ahoy")
    (tmp_path / "b" / "adapter.zip").write_text("ahoy")

    tar = training_services.trained_version_create(training=training, weights=tmp_path / "a" / "adapter.tar")
    zip_ = training_services.trained_version_create(training=training, weights=tmp_path / "b" / "adapter.zip")

    assert tar.sha256 != zip_.sha256
    assert (tar.config["trained_weights"], zip_.config["trained_weights"]) == (
        ".cog/weights/adapter.tar",
        ".cog/weights/adapter.zip",
    )
