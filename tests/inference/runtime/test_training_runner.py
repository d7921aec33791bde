"""The runner's train entry point (cog.yaml `train:`) and the trained weights' way into a
predictor's setup(), against real child processes and the trainable fixture model."""

import threading
import time
from pathlib import Path

import pytest

from inference.runtime.runner import Runner, RunnerSetupError

TRAINABLE = Path(__file__).resolve().parents[2] / "fixtures" / "models" / "trainable"


@pytest.fixture
def runners():
    started: list[Runner] = []

    def start(**kwargs) -> Runner:
        runner = Runner.start(**kwargs)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        runner.stop()


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "greeting.txt"
    path.write_text("ahoy\nignored\n")
    return path


def test_train_runs_the_trainer_class_with_setup_and_returns_its_weights(runners, data, tmp_path):
    runner = runners(project_dir=TRAINABLE, predictor_ref="train.py:Trainer", entry="train")
    assert runner.setup_logs == "trainer ready\n"

    result = runner.predict(
        prediction_id="t1",
        input={"train_data": str(data), "epochs": 2, "style": "shout"},
        output_dir=tmp_path / "out",
    )

    assert result.status == "succeeded", result.error
    assert result.logs == "epoch 1 loss 1.0000\nepoch 2 loss 0.5000\n"
    weights = Path(result.output["weights"])
    assert weights.is_relative_to(tmp_path / "out")  # copied where the worker stores outputs from
    assert weights.name == "greeting.txt"  # with its name, which the predictor may go by
    assert weights.read_text() == "AHOY"


def test_a_trainer_that_raises_fails_with_its_message(runners, data):
    runner = runners(project_dir=TRAINABLE, predictor_ref="train.py:Trainer", entry="train")

    result = runner.predict(prediction_id="t1", input={"train_data": str(data), "epochs": 3, "fail": True})

    assert result.status == "failed"
    assert result.error == "the loss diverged at epoch 2"
    assert "epoch 1 loss" in result.logs and "ValueError" in result.logs


def test_cancel_stops_a_training(runners, data):
    runner = runners(project_dir=TRAINABLE, predictor_ref="train.py:Trainer", entry="train")
    threading.Timer(0.5, runner.cancel, ["t1"]).start()

    started = time.monotonic()
    result = runner.predict(
        prediction_id="t1", input={"train_data": str(data), "epochs": 100, "seconds_per_epoch": 0.2}
    )

    assert result.status == "canceled"
    assert time.monotonic() - started < 3
    assert "epoch 1 loss" in result.logs


def test_a_function_trainer(runners, tmp_path):
    (tmp_path / "train.py").write_text(
        "from cog import Input, Path\n"
        "def train(text: str = Input(default='w')) -> Path:\n"
        "    path = Path('weights.txt')\n"
        "    path.write_text(text)\n"
        "    return path\n"
    )
    runner = runners(project_dir=tmp_path, predictor_ref="train.py:train", entry="train")

    result = runner.predict(prediction_id="t1", input={"text": "learned"}, output_dir=tmp_path / "out")

    assert result.status == "succeeded", result.error
    assert Path(result.output).read_text() == "learned"


def test_a_class_without_train_fails_setup(runners):
    with pytest.raises(RunnerSetupError, match="defines no train"):
        runners(project_dir=TRAINABLE, predictor_ref="predict.py:Predictor", entry="train")


def test_setup_gets_cog_weights_as_a_path_when_it_asks_for_one(runners, tmp_path):
    weights = tmp_path / "trained.txt"
    weights.write_text("bonjour")
    runner = runners(project_dir=TRAINABLE, predictor_ref="predict.py:Predictor", env={"COG_WEIGHTS": str(weights)})

    assert runner.predict(prediction_id="p1", input={"name": "Ada"}).output == "bonjour, Ada"
    assert runner.setup_logs == f"setup with weights {weights}\n"


def test_setup_without_cog_weights_gets_none(runners):
    runner = runners(project_dir=TRAINABLE, predictor_ref="predict.py:Predictor", env={"COG_WEIGHTS": ""})

    assert runner.predict(prediction_id="p1", input={"name": "Ada"}).output == "hello, Ada"
