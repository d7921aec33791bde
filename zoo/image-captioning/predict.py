"""Image captioning and visual question answering with a Hugging Face BLIP-2 model.

HEARTH_CAPTION_MODEL names the weights: a Hugging Face Hub id or a local directory written by
save_pretrained (a Blip2Processor and a Blip2ForConditionalGeneration, with an OPT or a Flan-T5
language model). Set it in the worker's environment, or in cog.yaml's `environment:` (which
takes precedence) to pin it in the package.
"""

import os
import time
from pathlib import Path

import PIL.Image
import torch
from cog import BasePredictor, Input
from cog import Path as CogPath
from transformers import Blip2ForConditionalGeneration, Blip2Processor

DEFAULT_MODEL = "Salesforce/blip2-opt-2.7b"


class Predictor(BasePredictor):
    def setup(self) -> None:
        source = _model_source()
        started = time.perf_counter()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Half precision halves GPU memory and time; CPUs have no fast float16 kernels.
        self.dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.processor = Blip2Processor.from_pretrained(source)
        self.model = Blip2ForConditionalGeneration.from_pretrained(source, dtype=self.dtype).to(self.device)
        print(f"Loaded {source} on {self.device} ({self.dtype}) in {time.perf_counter() - started:.2f} s")

    def predict(
        self,
        image: CogPath = Input(description="Image to caption or ask about: PNG, JPEG, WebP, GIF..."),
        question: str = Input(description="Question about the image; empty to caption it", default=""),
        caption: bool = Input(description="Caption the image, even when a question is given", default=False),
        max_new_tokens: int = Input(description="Most tokens in the answer", default=30, ge=1, le=512),
    ) -> str:
        picture = load_image(Path(image))
        started = time.perf_counter()
        # BLIP-2 answers questions in the format it was tuned on; a caption continues no prompt.
        prompt = "" if caption or not question.strip() else f"Question: {question.strip()} Answer:"
        inputs = self.processor(images=picture, text=prompt, return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        # At least one token, as LAVIS (BLIP-2's own code) generates: an empty answer says nothing.
        ids = self.model.generate(**inputs, max_new_tokens=max_new_tokens, min_new_tokens=1)
        if self.model.config.use_decoder_only_language_model:
            ids = ids[:, inputs["input_ids"].shape[1] :]  # the prompt comes back first
        text = self.processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
        print(f"{'Captioned' if not prompt else 'Answered'} in {time.perf_counter() - started:.2f} s")
        return text


def _model_source() -> str:
    source = os.environ.get("HEARTH_CAPTION_MODEL") or DEFAULT_MODEL
    # from_pretrained takes a path it cannot find for a Hub id, and says the id is malformed.
    if source.startswith(("/", ".")) and not Path(source).is_dir():
        raise FileNotFoundError(f"HEARTH_CAPTION_MODEL={source}: no such model directory")
    return source


def load_image(path: Path) -> PIL.Image.Image:
    """The image in RGB; ValueError if Pillow cannot read it."""
    try:
        with PIL.Image.open(path) as opened:
            return opened.convert("RGB")  # decodes it all now, so a truncated file fails here
    except (PIL.UnidentifiedImageError, OSError, PIL.Image.DecompressionBombError) as exc:
        raise ValueError(f"Could not decode the image ({exc}); send a PNG, JPEG, WebP or GIF image") from None
