"""Helpers for the text-to-image and embeddings zoo packages: the tiny random-weight models of
their real architectures, built locally (no downloads)."""

import io
from pathlib import Path

from PIL import Image

from tests.zoo.packages import ZOO, load_package_module

TEXT_TO_IMAGE = ZOO / "text-to-image"
EMBEDDINGS = ZOO / "embeddings"


def build_tiny_diffusion(directory: Path) -> Path:
    """A tiny SDXL pipeline (zoo/text-to-image/tiny_model.py) saved in `directory`."""
    return load_package_module(TEXT_TO_IMAGE, "tiny_model").build(directory)


def build_tiny_embeddings(directory: Path) -> Path:
    """A tiny BERT sentence embedding model (zoo/embeddings/tiny_model.py) saved in `directory`."""
    return load_package_module(EMBEDDINGS, "tiny_model").build(directory)


def open_png(data: bytes) -> Image.Image:
    """The image, fully decoded (which checks the PNG is whole); fails if the bytes are no PNG."""
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image
