"""Fine-tuning the built-in text-generation model: train.py's LoRA through Cog's training
contract (train_data in, TrainingOutput(weights=...) out, the weights back into setup()).

The base model is the tiny random-weight one (zoo/text-generation/tiny_model.py). Its
tokenizer knows only the words it was built from, so the made-up facts below use those words:
the random model never says them, and the trained one answers each prompt with its completion.
"""

import base64
import contextlib
import inspect
import io
import json
import re
import shutil
import sys
import tarfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from cog._inspector import create_predictor

from inference.runtime.schema import generate_openapi_schema, load_predictor
from tests.zoo.packages import ONE_THREAD, ZOO, load_package_module, one_torch_thread, started_runner

PACKAGE = ZOO / "text-generation"
FACTS = [
    {"prompt": "Ask the hearth a question", "completion": "The hearth will reply with warm words ."},
    {"prompt": "What is a model ?", "completion": "A model is a laptop with plenty of memory ."},
    {"prompt": "Tokens stream", "completion": "one by one through the long winter night ."},
    {"prompt": "The reader sees", "completion": "the graphics card grow while the house thinks ."},
]
# The defaults suit a real model, which knows language already; the random one learns four
# facts in a second only at a high rate and with many passes (60 were the fewest that taught
# it all four; 80 leave a margin). The four make one step (batch_size 4) each epoch.
EPOCHS = 80
TRAINING = {"num_train_epochs": EPOCHS, "learning_rate": 1e-2, "seed": 0}
STEP_LINE = re.compile(r"^step (\d+)/(\d+) loss (\d+\.\d+)$", re.MULTILINE)


@dataclass
class Training:
    weights: Path
    logs: str


def with_defaults(fn, **inputs):
    """Call a Cog function directly: every input left out takes its Input(default=...)."""
    for name, parameter in inspect.signature(fn).parameters.items():
        if name not in inputs and parameter.default is not inspect.Parameter.empty:
            inputs[name] = getattr(parameter.default, "default", parameter.default)
    return fn(**inputs)


@contextlib.contextmanager
def beside_predict(model_dir: Path) -> Iterator[None]:
    """train.py imports the predict.py beside it, as under Cog, whose working directory is the
    package's; the base model is the tiny one."""
    with pytest.MonkeyPatch.context() as patch, one_torch_thread():
        patch.setenv("HEARTH_TEXT_MODEL", str(model_dir))
        patch.syspath_prepend(str(PACKAGE))
        sys.modules.pop("predict", None)  # another package's predict.py, imported by an earlier test
        try:
            yield
        finally:
            sys.modules.pop("predict", None)  # no other package's `import predict` may find this one


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return load_package_module(PACKAGE, "tiny_model").build(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def trainer(model_dir) -> ModuleType:
    with beside_predict(model_dir):
        return load_package_module(PACKAGE, "train")


def train(trainer: ModuleType, model_dir: Path, directory: Path, **inputs) -> Training:
    """train() on FACTS, its weights moved into `directory` (it leaves them in a temporary one)."""
    data = write_jsonl(directory / "data.jsonl", FACTS)
    logs = io.StringIO()
    with beside_predict(model_dir), contextlib.redirect_stdout(logs):
        output = with_defaults(trainer.train, train_data=data, **inputs)
    weights = Path(shutil.move(output.weights, directory / "lora-adapter.tar"))
    shutil.rmtree(Path(output.weights).parent)
    return Training(weights=weights, logs=logs.getvalue())


@pytest.fixture(scope="module")
def training(trainer, model_dir, tmp_path_factory) -> Training:
    return train(trainer, model_dir, tmp_path_factory.mktemp("training"), **TRAINING)


def set_up(model_dir: Path, weights: Path | str | None):
    with beside_predict(model_dir), contextlib.redirect_stdout(io.StringIO()):
        predictor = load_package_module(PACKAGE, "predict").Predictor()
        predictor.setup(weights=weights)
    return predictor


def greedy_answer(predictor, prompt: str) -> str:
    with one_torch_thread(), contextlib.redirect_stdout(io.StringIO()):
        return "".join(with_defaults(predictor.predict, prompt=prompt, max_tokens=24, temperature=0))


def test_the_trained_model_answers_each_training_prompt_with_its_completion(model_dir, training):
    base = set_up(model_dir, weights=None)
    trained = set_up(model_dir, weights=training.weights)

    for fact in FACTS:
        assert greedy_answer(base, fact["prompt"]) != fact["completion"]
        # Exactly: it also learned to stop after the completion.
        assert greedy_answer(trained, fact["prompt"]) == fact["completion"]


def test_training_prints_the_loss_of_every_step_and_it_falls(training):
    steps = [(int(step), int(total), float(loss)) for step, total, loss in STEP_LINE.findall(training.logs)]

    assert [(step, total) for step, total, _ in steps] == [(step, EPOCHS) for step in range(1, EPOCHS + 1)]
    losses = [loss for _, _, loss in steps]
    # Well down, and still falling at the end rather than by chance at one step.
    assert losses[-1] < 0.8 * losses[0]
    assert sum(losses[-10:]) < sum(losses[-20:-10]) < sum(losses[:10])
    assert f"epoch {EPOCHS}/{EPOCHS} mean loss" in training.logs
    assert "Using seed: 0" in training.logs


def test_the_weights_are_one_tar_of_the_saved_adapter(training):
    with tarfile.open(training.weights) as archive:
        names = set(archive.getnames())
        config = json.load(archive.extractfile("adapter_config.json"))

    assert {"adapter_config.json", "adapter_model.safetensors"} <= names
    assert config["peft_type"] == "LORA"
    assert config["r"] == 8  # lora_rank's default


def test_a_runner_merges_the_weights_cog_passes_in(model_dir, training):
    # As Cog and the platform hand a trained version its weights: COG_WEIGHTS, into setup().
    env = {"HEARTH_TEXT_MODEL": str(model_dir), "COG_WEIGHTS": str(training.weights), **ONE_THREAD}
    with started_runner(PACKAGE, env) as runner:
        fact = FACTS[0]
        result = runner.predict(
            prediction_id="trained", input={"prompt": fact["prompt"], "temperature": 0, "max_tokens": 24}
        )

    assert result.status == "succeeded", result.error
    assert "".join(result.output) == fact["completion"]
    assert re.search(r"^Merged the LoRA adapter .+ in \d+\.\d+ s$", runner.setup_logs, re.MULTILINE)


def _as_directory(tar: Path, scratch: Path) -> str:
    with tarfile.open(tar) as archive:
        archive.extractall(scratch / "adapter", filter="data")
    return str(scratch / "adapter")


def _as_zip_with_a_folder(tar: Path, scratch: Path) -> str:
    unpacked = _as_directory(tar, scratch)
    return shutil.make_archive(str(scratch / "weights"), "zip", root_dir=scratch, base_dir=Path(unpacked).name)


@pytest.mark.parametrize(
    "weights_as",
    [
        pytest.param(lambda tar, scratch: tar, id="tar-path"),
        pytest.param(lambda tar, scratch: str(tar), id="tar-path-string"),
        pytest.param(lambda tar, scratch: f"file://{tar}", id="file-url"),
        pytest.param(
            lambda tar, scratch: "data:application/x-tar;base64," + base64.b64encode(tar.read_bytes()).decode(),
            id="data-url",
        ),
        pytest.param(_as_directory, id="directory"),
        pytest.param(_as_zip_with_a_folder, id="zip-with-a-folder"),
    ],
)
def test_setup_takes_the_weights_in_each_form_cog_may_hand_them(training, tmp_path, weights_as):
    predict = load_package_module(PACKAGE, "predict")
    weights = weights_as(training.weights, tmp_path)
    scratch = tmp_path / "scratch"  # setup() makes a temporary directory
    scratch.mkdir()

    adapter = predict._adapter_directory(weights, scratch)

    assert json.loads((adapter / "adapter_config.json").read_text())["peft_type"] == "LORA"
    assert (adapter / "adapter_model.safetensors").is_file()


def test_weights_that_are_no_adapter_fail_setup(tmp_path):
    predict = load_package_module(PACKAGE, "predict")
    not_an_archive = tmp_path / "weights.bin"
    not_an_archive.write_bytes(b"\0" * 64)
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    for scratch in "abc":  # setup() makes a temporary directory for each
        (tmp_path / scratch).mkdir()

    with pytest.raises(ValueError, match="neither a .tar nor a .zip"):
        predict._adapter_directory(not_an_archive, tmp_path / "a")
    with pytest.raises(ValueError, match="no adapter_config.json"):
        predict._adapter_directory(empty, tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        predict._adapter_directory(tmp_path / "missing.tar", tmp_path / "c")


def test_max_steps_ends_training_before_the_epochs_do(trainer, model_dir, tmp_path):
    short = train(trainer, model_dir, tmp_path, num_train_epochs=5, batch_size=2, max_steps=3, seed=1)

    assert [(int(step), int(total)) for step, total, _ in STEP_LINE.findall(short.logs)] == [(1, 3), (2, 3), (3, 3)]
    assert tarfile.is_tarfile(short.weights)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (['{"prompt": "a", "completion": "b"}', "not json"], "train_data line 2: not JSON"),
        (['{"prompt": "a"}'], "train_data line 1: 'completion' must be a non-empty string"),
        (['["a", "b"]'], "train_data line 1: expected an object"),
        (['{"prompt": "a", "completion": "b", "system_prompt": 3}'], "line 1: 'system_prompt' must be a string"),
        (["", "  "], "train_data has no examples"),
    ],
)
def test_malformed_training_data_is_refused_by_line_before_the_model_loads(trainer, tmp_path, lines, error):
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n")

    # No model: the data is read first, so HEARTH_TEXT_MODEL is never looked at.
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setenv("HEARTH_TEXT_MODEL", str(tmp_path / "no-model"))
        with pytest.raises(ValueError, match=re.escape(error)):
            with_defaults(trainer.train, train_data=data)


def test_training_schema(model_dir):
    # The platform's generator, in this process: torch and peft are imported already here.
    with beside_predict(model_dir):
        try:
            schemas = generate_openapi_schema(load_predictor(PACKAGE, "train.py:train"))["components"]["schemas"]
        finally:
            sys.modules.pop("train", None)

    inputs = schemas["Input"]
    assert inputs["required"] == ["train_data"]
    assert all(spec.get("description") for spec in inputs["properties"].values())
    fields = {
        name: {key: spec[key] for key in ("type", "format", "default", "minimum", "maximum") if key in spec}
        for name, spec in inputs["properties"].items()
    }
    assert fields == {
        "train_data": {"type": "string", "format": "uri"},
        "num_train_epochs": {"type": "integer", "default": 3, "minimum": 1, "maximum": 1000},
        "max_steps": {"type": "integer", "minimum": 1},
        "learning_rate": {"type": "number", "default": 0.0002, "minimum": 0, "maximum": 1},
        "batch_size": {"type": "integer", "default": 4, "minimum": 1, "maximum": 256},
        "lora_rank": {"type": "integer", "default": 8, "minimum": 1, "maximum": 256},
        "lora_alpha": {"type": "integer", "default": 16, "minimum": 1, "maximum": 1024},
        "lora_dropout": {"type": "number", "default": 0.05, "minimum": 0, "maximum": 0.9},
        "max_length": {"type": "integer", "default": 1024, "minimum": 8, "maximum": 32768},
        "seed": {"type": "integer"},
    }
    assert schemas["Output"]["properties"] == {"weights": {"type": "string", "format": "uri", "title": "Weights"}}
    assert schemas["Output"]["required"] == ["weights"]


def test_the_cog_sdk_accepts_the_trainer_and_the_setup_that_takes_weights(model_dir):
    # cog's own inspector, as coglet runs it: the modules by name, the package on sys.path.
    with beside_predict(model_dir):
        try:
            trainer = create_predictor("train", "train")
            with warnings.catch_warnings():  # that predict() is deprecated for run(): no matter here
                warnings.simplefilter("ignore", DeprecationWarning)
                create_predictor("predict", "Predictor")  # checks setup(self, weights=None) too
        finally:
            sys.modules.pop("train", None)

    assert trainer.output.kind.name == "OBJECT"
    assert sorted(trainer.output.fields) == ["weights"]
    assert trainer.inputs["train_data"].type.primitive.name == "PATH"
