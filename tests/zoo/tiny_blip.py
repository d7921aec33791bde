"""The image-captioning zoo package's modules and test images, shared by its runner and e2e tests."""

from pathlib import Path

import PIL.Image
import PIL.ImageDraw

from tests.zoo.packages import ZOO, load_package_module

PACKAGE = ZOO / "image-captioning"
ENV_VAR = "HEARTH_CAPTION_MODEL"


def build_tiny_blip(directory: Path) -> Path:
    return load_package_module(PACKAGE, "tiny_model").build(directory)


def write_picture(path: Path, size: tuple[int, int] = (96, 64)) -> Path:
    """A red house under a blue sky, drawn; the format from the suffix."""
    picture = PIL.Image.new("RGB", size, (90, 160, 230))
    draw = PIL.ImageDraw.Draw(picture)
    width, height = size
    draw.rectangle([width // 4, height // 2, 3 * width // 4, height - 4], fill=(200, 30, 30))
    roof = [(width // 4, height // 2), (width // 2, height // 5), (3 * width // 4, height // 2)]
    draw.polygon(roof, fill=(90, 40, 20))
    picture.save(path)
    return path
