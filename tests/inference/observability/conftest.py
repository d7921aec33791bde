import sys

import pytest

from inference.observability import gpus
from tests.inference.observability.fake_nvml import fake_nvml


@pytest.fixture
def nvml(monkeypatch):
    """Installs a fake NVML with the given devices for the next `gpus.readings()`."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    def install(devices: list[dict], **options) -> None:
        monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(devices, **options))
        gpus.reset()

    yield install
    gpus.reset()
