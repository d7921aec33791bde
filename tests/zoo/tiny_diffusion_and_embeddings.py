"""Helpers for the text-to-image and embeddings zoo packages: their modules, loaded by path,
and the tiny random-weight models of their real architectures, built locally (no downloads)."""

import contextlib
import importlib.util
import io
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from PIL import Image

ZOO = Path(__file__).resolve().parents[2] / "zoo"
TEXT_TO_IMAGE = ZOO / "text-to-image"
EMBEDDINGS = ZOO / "embeddings"


def load_package_module(package: Path, name: str) -> ModuleType:
    # By path: a package's directory name is no Python package name.
    spec = importlib.util.spec_from_file_location(f"{package.name.replace('-', '_')}_{name}", package / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


# For runners of the tiny models in tests. On two CPU cores shared with other processes, torch's
# second thread mostly makes the first wait for it at every operation (runs measured 10 to 50
# times slower than with one thread); tiny models have nothing to gain from it anyway.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """ONE_THREAD for torch in this process, for predictors run in-process."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
