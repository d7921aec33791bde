"""The demo catalogue: every zoo model `make run` pushes comes with a description, a README, a
cover image and a default example, and the push (hosting/devserver.py `push_demo_model`, through
`manage.py push` and `manage.py catalogue`) sets them on the model."""

import ast
import json
import xml.etree.ElementTree as ElementTree
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.services import user_create
from hosting import devserver
from inference.models import Model, Prediction
from tests.conftest import ZOO

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def _inputs(package: Path) -> list[str]:
    """The names of the predictor's inputs: the parameters of its predict(), read from the source."""
    tree = ast.parse((package / "predict.py").read_text())
    predict = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "predict")
    return [argument.arg for argument in predict.args.args if argument.arg != "self"]


def _variable(name: str) -> str | None:
    return next((variable for variable, package in devserver.DEMO_WEIGHTS.items() if package == name), None)


@pytest.mark.parametrize("name", devserver.DEMO_MODELS)
def test_each_demo_model_has_a_readme_that_names_its_inputs_and_its_weights(name):
    package = ZOO / name
    readme = (package / "README.md").read_text()
    assert readme.startswith("# ")
    for section in ("## Inputs", "## Output", "## Weights"):
        assert section in readme, (name, section)
    for input_name in _inputs(package):
        assert f"`{input_name}`" in readme, (name, input_name)
    variable = _variable(name)
    if variable is not None:  # a model that `make run` gives tiny random weights unless told otherwise
        assert f"{variable}=" in readme and "make run" in readme  # which real weights to run, and how
        assert "**Demo weights are random.**" in readme


@pytest.mark.parametrize("name", devserver.DEMO_MODELS)
def test_each_demo_model_has_a_small_self_contained_svg_cover(name):
    cover = ZOO / name / "cover.svg"
    assert cover.stat().st_size < 4096
    root = ElementTree.parse(cover).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 320 160"
    for element in root.iter():
        # The pages' CSP allows only their own origin: nothing to fetch, nothing to run.
        assert not element.tag.endswith(("script", "foreignObject", "image")), (name, element.tag)
        assert not any(attribute.startswith("on") for attribute in element.attrib), (name, element.tag)
        assert not (element.get("href") or element.get(XLINK_HREF) or "").startswith(("http", "//")), name


@pytest.mark.parametrize("name", devserver.DEMO_MODELS)
def test_each_demo_model_has_a_description_and_an_example_of_its_own_inputs(name):
    package = ZOO / name
    catalogue = json.loads((package / "catalogue.json").read_text())
    assert 20 < len(catalogue["description"]) <= 160
    inputs = set(_inputs(package))
    for key in ("example", "demo_example"):
        example = catalogue.get(key, {})
        assert set(example) <= inputs, (name, key)
        for value in example.values():  # a file named by the example comes with the model
            if isinstance(value, str) and value.startswith("example."):
                assert (package / value).is_file(), (name, value)
    assert catalogue["example"]
    if "demo_example" in catalogue:
        assert _variable(name), f"{name} has no demo weights to run a demo example on"


@pytest.fixture
def demo_user(db, cpu, settings, tmp_path, monkeypatch):
    user_create(username=devserver.DEMO_USER, email="demo@example.com", password="correct horse 9")
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    # What `make run` sets before it pushes: real weights for the image model, tiny ones otherwise.
    for variable, package in devserver.DEMO_WEIGHTS.items():
        monkeypatch.setenv(variable, str(tmp_path / "demo-weights" / package))
    monkeypatch.setenv("HEARTH_IMAGE_MODEL", "stabilityai/stable-diffusion-xl-base-1.0")
    # In this process, as `make run` runs them in a child: the same commands, on the test database.
    monkeypatch.setattr(devserver, "_manage", lambda *args: call_command(*args, stdout=StringIO(), stderr=StringIO()))


def test_the_zoo_push_sets_every_demo_models_catalogue_entry(demo_user):
    for name in devserver.DEMO_MODELS:
        devserver.push_demo_model(name)

    models = {model.name: model for model in Model.objects.select_related("default_example__version")}
    assert set(models) == set(devserver.DEMO_MODELS)
    for name, model in models.items():
        catalogue = json.loads((ZOO / name / "catalogue.json").read_text())
        assert model.visibility == "public" and model.owner.username == "demo"
        assert model.description == catalogue["description"]
        assert model.readme == (ZOO / name / "README.md").read_text()
        assert model.cover_image.read() == (ZOO / name / "cover.svg").read_bytes()
        # Demo weights: the ones `make run` built, not the real ones HEARTH_IMAGE_MODEL named.
        assert model.demo_weights == (name in {"text-generation", "speech-to-text", "image-captioning"}), name
        example = model.default_example
        assert (example.status, example.source, example.account_id) == ("starting", "web", model.owner_id)
        assert example.version_id == model.latest_version_id  # queued now, run once the worker is up
        chosen = catalogue.get("demo_example") if model.demo_weights else None
        assert set(example.input) >= set(chosen or catalogue["example"]), name
        assert model.openai_api == catalogue.get("openai_api", ""), name
        assert model.cache_policy == catalogue.get("cache_policy", "off"), name

    # The language and embeddings models declare themselves to the OpenAI-compatible API.
    assert (models["text-generation"].openai_api, models["embeddings"].openai_api) == ("chat", "embeddings")
    # Deterministic models may answer from the prediction cache; sampling ones when seeded.
    assert (models["embeddings"].cache_policy, models["text-generation"].cache_policy) == ("deterministic", "seeded")
    # File inputs travel inline, read from the model's directory.
    assert models["speech-to-text"].default_example.input["audio"].startswith("data:audio/ogg;base64,")
    assert models["image-captioning"].default_example.input["image"].startswith("data:image/png;base64,")
    # On real weights the image model runs the full-size example; on demo ones, a small one.
    assert models["text-to-image"].default_example.input["num_inference_steps"] == 30
    assert models["image-captioning"].default_example.input["max_new_tokens"] == 12


def test_pushing_the_zoo_again_keeps_the_example_and_cover_of_an_unchanged_model(demo_user):
    devserver.push_demo_model("echo")
    first = Model.objects.get(name="echo")
    devserver.push_demo_model("echo")
    again = Model.objects.get(name="echo")
    assert again.default_example_id == first.default_example_id
    assert again.cover_image.name == first.cover_image.name
    assert Prediction.objects.count() == 1

    # A run that failed is not shown, so the next start runs the example again.
    Prediction.objects.filter(pk=first.default_example_id).update(status="failed")
    devserver.push_demo_model("echo")
    assert Model.objects.get(name="echo").default_example_id != first.default_example_id


def test_real_weights_take_the_banner_off_again(demo_user, monkeypatch, tmp_path):
    devserver.push_demo_model("text-generation")
    assert Model.objects.get(name="text-generation").demo_weights
    monkeypatch.setenv("HEARTH_TEXT_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    devserver.push_demo_model("text-generation")
    model = Model.objects.get(name="text-generation")
    assert not model.demo_weights
    assert model.default_example.input["max_tokens"] == 64  # the full example, run on the real weights
