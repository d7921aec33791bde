"""The image-captioning zoo package's modules and test images, shared by its runner and e2e tests."""

import importlib.util
from pathlib import Path

import PIL.Image
import PIL.ImageDraw

PACKAGE = Path(__file__).resolve().parents[2] / "zoo" / "image-captioning"
ENV_VAR = "HEARTH_CAPTION_MODEL"


def load_package_module(name: str):
    # By path: the package's directory name is no Python package name.
    spec = importlib.util.spec_from_file_location(f"image_captioning_{name}", PACKAGE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_tiny_blip(directory: Path) -> Path:
    return load_package_module("tiny_model").build(directory)


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
