"""GPU figures through NVML. No GPU here: a fake `pynvml` module stands in for the driver (the
outside world), with the calls and shapes of nvidia-ml-py."""

import sys

import pytest

from inference.observability import gpus
from tests.inference.observability.fake_nvml import H200, T4, NVMLError


def test_each_gpu_is_read(nvml):
    nvml([H200, T4])
    first, second = gpus.readings()
    assert first == gpus.GpuReading(
        index=0,
        uuid=H200["uuid"],
        name="NVIDIA H200",
        memory_used=2 * 2**30,
        memory_total=141 * 2**30,
        utilization=0.75,
    )
    assert (second.index, second.name, second.utilization) == (1, "Tesla T4", 0.0)  # older bindings answer bytes


@pytest.mark.parametrize(("visible", "indices"), [("1", [1]), ("GPU-1a2b", [0]), ("0,1", [0, 1]), ("", []), ("-1", [])])
def test_a_worker_reports_only_the_gpus_cuda_visible_devices_gives_it(nvml, monkeypatch, visible, indices):
    nvml([H200, T4])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [reading.index for reading in gpus.readings()] == indices


def test_no_driver_means_no_gpus_and_no_error(nvml):
    nvml([H200], init_error=NVMLError("NVML Shared Library Not Found"))
    assert gpus.readings() == []


def test_without_the_package_there_are_no_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    gpus.reset()
    try:
        assert gpus.readings() == []
    finally:
        gpus.reset()


def test_a_gpu_that_cannot_be_read_does_not_hide_the_others(nvml):
    nvml([{**H200, "broken": True}, T4])
    assert [reading.name for reading in gpus.readings()] == ["Tesla T4"]
