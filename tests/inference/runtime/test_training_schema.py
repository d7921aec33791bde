"""The training half of a version's schema (cog.yaml `train:`): TrainingInput, TrainingOutput, the
TrainingRequest/TrainingResponse models and the /trainings routes, compared with what Cog's own
generator (cog 0.16.12, `python -m cog.command.openapi_schema`) wrote for the same code.

The golden files: tests/fixtures/cog-schema-example/openapi_schema.cog-0.16.12.json (the shared
reference example, whose cog.yaml has `train: train.py:train`) and tests/fixtures/cog-training/
*.cog-0.16.12.json (made by tests/fixtures/cog-training/make_golden.py; its docstring says how)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.runtime.schema import PredictorError, generate_openapi_schema, load_predictor, train_method
from inference.runtime.validation import InputValidationError, InputValidator

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
TRAINING = FIXTURES / "cog-training"
EXAMPLES = {
    "cog-schema-example": (FIXTURES / "cog-schema-example", "train.py:train", "openapi_schema.cog-0.16.12.json"),
    "trainable": (FIXTURES / "models" / "trainable", "train.py:Trainer", None),
    "path-output": (TRAINING / "path-output", "train.py:train", None),
    "model-output": (TRAINING / "model-output", "train.py:Trainer", None),
}


def golden(name: str) -> dict:
    directory, _, own_golden = EXAMPLES[name]
    path = directory / own_golden if own_golden else TRAINING / f"{name}.cog-0.16.12.json"
    return json.loads(path.read_text())


def schema(name: str) -> dict:
    directory, train_ref, _ = EXAMPLES[name]
    return generate_openapi_schema(
        load_predictor(directory, "predict.py:Predictor"), load_predictor(directory, train_ref)
    )


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_schema_with_training_is_the_one_cog_makes(name):
    generated, expected = schema(name), golden(name)

    assert generated == expected
    assert json.dumps(generated) == json.dumps(expected)  # key order too


def test_training_output_shapes_follow_cogs_naming():
    # A Path is wrapped as TrainingOutput; a model of another name is referred to by $ref.
    assert schema("path-output")["components"]["schemas"]["TrainingOutput"] == {
        "type": "string",
        "format": "uri",
        "title": "TrainingOutput",
    }
    components = schema("model-output")["components"]["schemas"]
    assert components["TrainingOutput"] == {"$ref": "#/components/schemas/Result"}
    assert components["Result"]["required"] == ["weights", "final_loss"]


def test_a_choices_training_input_keeps_its_ref_as_cog_does():
    properties = schema("trainable")["components"]["schemas"]["TrainingInput"]["properties"]
    assert properties["style"] == {
        "$ref": "#/components/schemas/style",
        "description": "How the greeting is said",
        "default": "plain",
        "x-order": 3,
    }


def test_training_input_is_validated_against_training_input():
    validator = InputValidator(schema("trainable"), component="TrainingInput")

    assert validator({"train_data": "https://example.com/a.txt", "epochs": 2}) == {
        "train_data": "https://example.com/a.txt",
        "epochs": 2,
    }
    with pytest.raises(InputValidationError) as refused:
        validator({"epochs": 0, "style": "whisper", "name": "x"})  # `name` is predict()'s input
    fields = {error["field"] for error in refused.value.invalid_fields}
    assert fields == {"input.train_data", "input.epochs", "input.style", "input.name"}  # predict()'s, not train()'s


def write_trainer(tmp_path: Path, train_body: str) -> Path:
    (tmp_path / "predict.py").write_text(
        "from cog import BasePredictor\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, x: str) -> str:\n"
        "        return x\n"
    )
    (tmp_path / "train.py").write_text("from cog import BaseModel, Input, Path\n" + train_body)
    return tmp_path


@pytest.mark.parametrize(
    ("body", "ref", "error"),
    [
        ("def train(n: int) -> str:\n    return ''\n", "train.py:train", "must return a cog.Path or a model"),
        (
            "class Out(BaseModel):\n    loss: float\ndef train(n: int) -> Out:\n    pass\n",
            "train.py:train",
            "has no `weights: Path` field",
        ),
        ("class Trainer:\n    def setup(self) -> None:\n        pass\n", "train.py:Trainer", "defines no train()"),
        ("def train(n) -> Path:\n    pass\n", "train.py:train", "train: input n: missing type annotation"),
        ("def train(n: int = Input(default=0, ge=1)) -> Path:\n    pass\n", "train.py:train", "default 0 is invalid"),
    ],
)
def test_trainers_hearth_cannot_make_a_version_from_are_refused(tmp_path, body, ref, error):
    directory = write_trainer(tmp_path, body)
    predictor = load_predictor(directory, "predict.py:Predictor")
    with pytest.raises(PredictorError, match=error):
        generate_openapi_schema(predictor, load_predictor(directory, ref))


def test_train_method_of_a_class_and_of_a_function():
    directory, train_ref, _ = EXAMPLES["trainable"]
    assert train_method(load_predictor(directory, train_ref)).__qualname__ == "Trainer.train"
    directory, train_ref, _ = EXAMPLES["path-output"]
    assert train_method(load_predictor(directory, train_ref)).__name__ == "train"


def test_cli_takes_the_train_entry_point():
    directory, train_ref, _ = EXAMPLES["trainable"]
    result = subprocess.run(
        [sys.executable, "-m", "inference.runtime.schema", str(directory), "predict.py:Predictor", train_ref],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == golden("trainable")
