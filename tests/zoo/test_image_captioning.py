"""The built-in image-captioning model, run through the real runner as the platform runs it.

No weights can be downloaded here, so the model is a tiny random-weight BLIP-2 built locally
(zoo/image-captioning/tiny_model.py): it sees nothing, but captions and answers through the
real transformers code.
"""

import itertools
import re
from pathlib import Path

import PIL.Image
import pytest

from inference.runtime.runner import Runner
from inference.runtime.schema import generate_openapi_schema, load_predictor
from tests.zoo.packages import ONE_THREAD, REF, load_package_module, one_torch_thread, set_up_in_process, started_runner
from tests.zoo.tiny_blip import ENV_VAR, PACKAGE, build_tiny_blip, write_picture

_ids = itertools.count()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="module")
def runner(model_dir):
    with started_runner(PACKAGE, {ENV_VAR: str(model_dir), **ONE_THREAD}) as runner:
        yield runner


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """What the runner's OMP_NUM_THREADS does, for the models this process runs itself."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def local(model_dir):
    """The same model in this process, called directly, for what the output should be."""
    return set_up_in_process(load_package_module(PACKAGE, "predict"), {ENV_VAR: str(model_dir)})


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    return write_picture(tmp_path_factory.mktemp("pictures") / "house.png")


def describe(runner: Runner, image: Path, **input):
    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"image": str(image), **input})
    assert result.status == "succeeded", result.error
    return result


def generated_directly(local, image: Path, prompt: str, max_new_tokens: int) -> str:
    inputs = local.processor(images=PIL.Image.open(image).convert("RGB"), text=prompt, return_tensors="pt")
    ids = local.model.generate(**inputs, max_new_tokens=max_new_tokens, min_new_tokens=1)
    return local.processor.batch_decode(ids[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0].strip()


def test_setup_logs_device_and_load_time(runner, model_dir):
    loaded = rf"Loaded {re.escape(str(model_dir))} on (cpu \(torch.float32\)|cuda \(torch.float16\)) in \d+\.\d+ s"
    assert re.search(loaded, runner.setup_logs)


def test_captions_a_generated_image(runner, local, picture):
    result = describe(runner, picture, max_new_tokens=12)

    assert isinstance(result.output, str)
    assert result.output
    assert result.output == generated_directly(local, picture, "", 12)
    assert re.search(r"^Captioned in \d+\.\d+ s$", result.logs, re.MULTILINE)


def test_answers_a_question_about_the_image(runner, local, picture):
    result = describe(runner, picture, question="what colour is the house?", max_new_tokens=12)

    assert result.output
    assert result.output == generated_directly(local, picture, "Question: what colour is the house? Answer:", 12)
    assert result.output != describe(runner, picture, max_new_tokens=12).output
    assert re.search(r"^Answered in \d+\.\d+ s$", result.logs, re.MULTILINE)


def test_the_caption_flag_wins_over_a_question(runner, picture):
    flagged = describe(runner, picture, question="what colour is the house?", caption=True, max_new_tokens=12)

    assert flagged.output == describe(runner, picture, max_new_tokens=12).output


def test_max_new_tokens_bounds_the_text(runner, picture):
    # The tiny tokenizer is word-level: one token, one word.
    short = describe(runner, picture, max_new_tokens=3).output
    long = describe(runner, picture, max_new_tokens=20).output

    assert 1 <= len(short.split()) <= 3
    assert len(short.split()) < len(long.split()) <= 20
    assert long.startswith(short)


@pytest.mark.parametrize("suffix", ["jpg", "webp", "gif", "bmp"])
def test_other_image_formats_are_read(runner, local, tmp_path, suffix):
    image = write_picture(tmp_path / f"house.{suffix}", size=(40, 70))

    assert describe(runner, image, max_new_tokens=5).output == generated_directly(local, image, "", 5)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"<html>not an image</html>"],
    ids=["empty", "truncated-png", "html"],
)
def test_undecodable_images_fail_clearly_and_the_runner_goes_on(runner, tmp_path, picture, content):
    broken = tmp_path / "broken.png"
    broken.write_bytes(content)

    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"image": str(broken)})

    assert result.status == "failed"
    assert result.error.startswith("Could not decode the image (")
    assert result.error.endswith("send a PNG, JPEG, WebP or GIF image")
    assert runner.is_alive()
    describe(runner, picture, max_new_tokens=2)


def test_a_missing_model_directory_fails_setup(tmp_path, monkeypatch):
    missing = tmp_path / "no-model"
    monkeypatch.setenv(ENV_VAR, str(missing))

    # In this process: the runner's report of a failed setup is tested with the runner.
    with pytest.raises(FileNotFoundError, match=rf"^{ENV_VAR}={re.escape(str(missing))}: no such model directory$"):
        load_package_module(PACKAGE, "predict").Predictor().setup()


def test_schema():
    # In this process, where transformers is imported already; the platform does the same in a child.
    schemas = generate_openapi_schema(load_predictor(PACKAGE, REF))["components"]["schemas"]

    assert schemas["Output"] == {"type": "string", "title": "Output"}
    inputs = schemas["Input"]
    assert inputs["required"] == ["image"]
    bounds = {
        name: {key: spec[key] for key in ("type", "format", "default", "minimum", "maximum") if key in spec}
        for name, spec in inputs["properties"].items()
    }
    assert bounds == {
        "image": {"type": "string", "format": "uri"},
        "question": {"type": "string", "default": ""},
        "caption": {"type": "boolean", "default": False},
        "max_new_tokens": {"type": "integer", "default": 30, "minimum": 1, "maximum": 512},
    }
