"""The built-in text-to-image model: through the real runner as the platform runs it, and in
this process for what the images themselves show.

No weights can be downloaded here, so the model is a tiny random-weight SDXL pipeline built
locally (zoo/text-to-image/tiny_model.py): it paints noise, through the real diffusers code.
"""

import itertools
import re

import pytest

from inference.runtime.schema import generate_openapi_schema
from inference.runtime.validation import InputValidationError, validate_input
from tests.zoo.packages import ONE_THREAD, load_package_module, one_torch_thread, set_up_in_process, started_runner
from tests.zoo.tiny_diffusion_and_embeddings import TEXT_TO_IMAGE, build_tiny_diffusion, open_png

SMALL = {"prompt": "a red fox in the snow", "width": 64, "height": 64, "num_inference_steps": 2}
_ids = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_diffusion(tmp_path_factory.mktemp("tiny-sdxl"))


@pytest.fixture(scope="module")
def predict_module():
    return load_package_module(TEXT_TO_IMAGE, "predict")


@pytest.fixture(scope="module")
def runner(model_dir):
    with started_runner(TEXT_TO_IMAGE, {**ONE_THREAD, "HEARTH_IMAGE_MODEL": str(model_dir)}) as runner:
        yield runner


@pytest.fixture(scope="module")
def local(model_dir, predict_module):
    """The same predictor in this process, to open the files it writes."""
    return set_up_in_process(predict_module, {"HEARTH_IMAGE_MODEL": str(model_dir)})


def paint(local, **input) -> list:
    """The images `local` makes for SMALL overridden by `input`, as decoded PNGs."""
    settings = {
        "negative_prompt": "",
        "num_outputs": 1,
        "scheduler": "K_EULER",
        "guidance_scale": 7.5,
        "seed": 1,
        **SMALL,
        **input,
    }
    return [open_png(path.read_bytes()) for path in local.predict(**settings)]


def test_setup_logs_device_and_load_time(runner, model_dir):
    loaded = rf"Loaded {re.escape(str(model_dir))} on (cpu \(torch.float32\)|cuda \(torch.float16\)) in \d+\.\d+ s"
    assert re.search(loaded, runner.setup_logs)


def test_logs_the_seed_and_every_denoising_step(runner):
    result = runner.predict(prediction_id=f"p{next(_ids)}", input={**SMALL, "num_inference_steps": 3, "seed": 5})

    assert result.status == "succeeded", result.error
    assert len(result.output) == 1
    steps = re.findall(r"^Step (\d+)/(\d+)$", result.logs, re.MULTILINE)
    assert steps == [("1", "3"), ("2", "3"), ("3", "3")]
    assert "Using seed: 5" in result.logs
    assert re.search(r"^Made 1 64x64 image\(s\) in \d+\.\d+ s$", result.logs, re.MULTILINE)


@pytest.mark.parametrize(("field", "size"), [("width", 100), ("height", 68)])
def test_a_size_off_the_8_pixel_grid_fails_the_prediction_and_keeps_the_runner(runner, field, size):
    failed = runner.predict(prediction_id=f"p{next(_ids)}", input={**SMALL, field: size})

    assert failed.status == "failed"
    assert failed.error == f"{field} must be a multiple of 8, not {size}"
    assert runner.is_alive()
    again = runner.predict(prediction_id=f"p{next(_ids)}", input=SMALL)
    assert again.status == "succeeded", again.error


def test_makes_num_outputs_pngs_of_the_requested_size(local):
    # 72 wide: latents 9 wide, which the UNet halves unevenly on the way down.
    images = paint(local, width=72, height=96, num_outputs=3)

    assert [(image.format, image.size, image.mode) for image in images] == [("PNG", (72, 96), "RGB")] * 3
    # One prompt, three different starting noises: three different images.
    assert len({image.tobytes() for image in images}) == 3


def test_the_same_seed_paints_the_same_image(local):
    first, again, other = paint(local, seed=7), paint(local, seed=7), paint(local, seed=8)

    assert first[0].tobytes() == again[0].tobytes()
    assert other[0].tobytes() != first[0].tobytes()


def test_the_prompt_and_the_negative_prompt_steer_the_image(local):
    plain = paint(local)[0].tobytes()

    assert paint(local, prompt="a blue whale")[0].tobytes() != plain
    assert paint(local, negative_prompt="blurry")[0].tobytes() != plain


@pytest.mark.parametrize(
    ("choice", "scheduler_class", "karras"),
    [
        ("K_EULER", "EulerDiscreteScheduler", False),
        ("K_EULER_ANCESTRAL", "EulerAncestralDiscreteScheduler", False),
        ("DDIM", "DDIMScheduler", False),
        ("DPMSolverMultistep", "DPMSolverMultistepScheduler", False),
        ("KarrasDPM", "DPMSolverMultistepScheduler", True),
        ("HeunDiscrete", "HeunDiscreteScheduler", False),
        ("PNDM", "PNDMScheduler", False),
    ],
)
def test_each_scheduler_choice_denoises_with_its_diffusers_scheduler(local, choice, scheduler_class, karras):
    (image,) = paint(local, scheduler=choice)

    scheduler = local.pipeline.scheduler
    assert type(scheduler).__name__ == scheduler_class
    assert scheduler.config.get("use_karras_sigmas", False) is karras
    # Built on the model's own noise schedule, not the scheduler class's defaults.
    assert scheduler.config.beta_schedule == "scaled_linear"
    assert scheduler.config.beta_end == 0.012
    assert image.size == (64, 64)


def test_a_missing_model_directory_fails_setup(predict_module, tmp_path, monkeypatch):
    missing = tmp_path / "no-model"
    monkeypatch.setenv("HEARTH_IMAGE_MODEL", str(missing))

    with pytest.raises(FileNotFoundError, match=rf"^HEARTH_IMAGE_MODEL={re.escape(str(missing))}: no such"):
        predict_module.Predictor().setup()


def test_schema_bounds_the_inputs_and_returns_a_list_of_files(predict_module):
    schema = generate_openapi_schema(predict_module.Predictor)
    schemas = schema["components"]["schemas"]

    assert schemas["Output"] == {"items": {"type": "string", "format": "uri"}, "type": "array", "title": "Output"}
    assert schemas["Input"]["required"] == ["prompt"]
    assert schemas["scheduler"]["enum"] == [
        "K_EULER",
        "K_EULER_ANCESTRAL",
        "DDIM",
        "DPMSolverMultistep",
        "KarrasDPM",
        "HeunDiscrete",
        "PNDM",
    ]
    bounds = {
        name: {key: spec[key] for key in ("type", "default", "minimum", "maximum") if key in spec}
        for name, spec in schemas["Input"]["properties"].items()
    }
    assert bounds == {
        "prompt": {"type": "string"},
        "negative_prompt": {"type": "string", "default": ""},
        "width": {"type": "integer", "default": 1024, "minimum": 64, "maximum": 2048},
        "height": {"type": "integer", "default": 1024, "minimum": 64, "maximum": 2048},
        "num_outputs": {"type": "integer", "default": 1, "minimum": 1, "maximum": 4},
        "scheduler": {"default": "K_EULER"},
        "num_inference_steps": {"type": "integer", "default": 30, "minimum": 1, "maximum": 200},
        "guidance_scale": {"type": "number", "default": 7.5, "minimum": 1, "maximum": 50},
        "seed": {"type": "integer"},
    }


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"num_outputs": 5}, "input.num_outputs"),
        ({"num_outputs": 0}, "input.num_outputs"),
        ({"width": 4096}, "input.width"),
        ({"height": 32}, "input.height"),
        ({"scheduler": "K_LMS"}, "input.scheduler"),
        ({"num_inference_steps": 0}, "input.num_inference_steps"),
    ],
)
def test_out_of_range_inputs_are_refused_before_they_reach_the_model(predict_module, bad, field):
    schema = generate_openapi_schema(predict_module.Predictor)

    with pytest.raises(InputValidationError) as raised:
        validate_input(schema, {**SMALL, **bad})

    assert [error["field"] for error in raised.value.invalid_fields] == [field]
