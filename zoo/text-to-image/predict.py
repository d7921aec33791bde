"""Text to image with a Stable Diffusion XL pipeline (diffusers), as PNG files.

HEARTH_IMAGE_MODEL names the weights: a Hugging Face Hub id or a local directory written by
save_pretrained (model_index.json and one folder per part). Set it in the worker's environment,
or in cog.yaml's `environment:` (which takes precedence) to pin it in the package.
"""

import os
import tempfile
import time
from pathlib import Path

import torch
from cog import BasePredictor, Input
from cog import Path as CogPath
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionXLPipeline,
)

DEFAULT_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"

# Replicate's SDXL names -> (diffusers scheduler, settings on top of the model's own config).
SCHEDULERS = {
    "K_EULER": (EulerDiscreteScheduler, {}),
    "K_EULER_ANCESTRAL": (EulerAncestralDiscreteScheduler, {}),
    "DDIM": (DDIMScheduler, {}),
    "DPMSolverMultistep": (DPMSolverMultistepScheduler, {}),
    "KarrasDPM": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "HeunDiscrete": (HeunDiscreteScheduler, {}),
    "PNDM": (PNDMScheduler, {"skip_prk_steps": True}),  # as SDXL configures it
}


class Predictor(BasePredictor):
    def setup(self) -> None:
        source = _model_source()
        started = time.perf_counter()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Half precision halves GPU memory and time; CPUs have no fast float16 kernels.
        # (The SDXL VAE overflows in float16; the pipeline upcasts it itself, as its config asks.)
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.pipeline = StableDiffusionXLPipeline.from_pretrained(source, dtype=dtype).to(self.device)
        # Steps are logged one line each below; tqdm's carriage-return bar reads badly in logs.
        self.pipeline.set_progress_bar_config(disable=True)
        self.scheduler_config = self.pipeline.scheduler.config
        self.output_dir = Path(tempfile.mkdtemp(prefix="text-to-image-"))
        print(f"Loaded {source} on {self.device} ({dtype}) in {time.perf_counter() - started:.2f} s")

    def predict(
        self,
        prompt: str = Input(description="What the image shows"),
        negative_prompt: str = Input(description="What the image should not show", default=""),
        width: int = Input(description="Width of each image in pixels, a multiple of 8", default=1024, ge=64, le=2048),
        height: int = Input(
            description="Height of each image in pixels, a multiple of 8", default=1024, ge=64, le=2048
        ),
        num_outputs: int = Input(description="How many images to make", default=1, ge=1, le=4),
        scheduler: str = Input(
            description="The sampler that removes the noise", default="K_EULER", choices=list(SCHEDULERS)
        ),
        num_inference_steps: int = Input(
            description="Denoising steps; more are slower and finer", default=30, ge=1, le=200
        ),
        guidance_scale: float = Input(
            description="How closely to follow the prompt (classifier-free guidance)", default=7.5, ge=1, le=50
        ),
        seed: int = Input(description="Random seed, for repeatable images; empty for a random one", default=None),
    ) -> list[CogPath]:
        multiple = self.pipeline.vae_scale_factor  # the VAE works on latents this many times smaller
        for name, size in (("width", width), ("height", height)):
            if size % multiple:
                raise ValueError(f"{name} must be a multiple of {multiple}, not {size}")
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "big")
        print(f"Using seed: {seed}")
        scheduler_class, settings = SCHEDULERS[scheduler]
        self.pipeline.scheduler = scheduler_class.from_config(self.scheduler_config, **settings)

        started = time.perf_counter()
        images = self.pipeline(
            prompt=prompt,
            # None, not "": SDXL then uses zeros for the unconditional embedding, as it was trained.
            negative_prompt=negative_prompt or None,
            width=width,
            height=height,
            num_images_per_prompt=num_outputs,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            generator=torch.Generator(self.device).manual_seed(seed),
            callback_on_step_end=_log_step,
        ).images
        print(f"Made {len(images)} {width}x{height} image(s) in {time.perf_counter() - started:.2f} s")

        # Overwritten by the next prediction, as in Cog's own examples: a runner's outputs are
        # read as soon as predict() returns, and the disk does not fill up.
        paths = []
        for index, image in enumerate(images):
            path = self.output_dir / f"out-{index}.png"
            image.save(path, format="PNG")
            paths.append(CogPath(path))
        return paths


def _log_step(pipeline: StableDiffusionXLPipeline, step: int, timestep, callback_kwargs: dict) -> dict:
    print(f"Step {step + 1}/{pipeline.num_timesteps}")
    return callback_kwargs


def _model_source() -> str:
    source = os.environ.get("HEARTH_IMAGE_MODEL") or DEFAULT_MODEL
    # from_pretrained takes a path it cannot find for a Hub id, and says the id is malformed.
    if source.startswith(("/", ".")) and not Path(source).is_dir():
        raise FileNotFoundError(f"HEARTH_IMAGE_MODEL={source}: no such model directory")
    return source
