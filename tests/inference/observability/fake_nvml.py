"""A stand-in for nvidia-ml-py's `pynvml` (the outside world: no GPU on the test machines), with
the calls and reply shapes `inference/observability/gpus.py` uses."""

import types
from types import SimpleNamespace


class NVMLError(Exception):
    pass


def fake_nvml(devices: list[dict], *, init_error: Exception | None = None) -> types.ModuleType:
    nvml = types.ModuleType("pynvml")

    def init() -> None:
        if init_error is not None:
            raise init_error

    def device(index: int) -> dict:
        if devices[index].get("broken"):
            raise NVMLError("GPU is lost")
        return devices[index]

    nvml.NVMLError = NVMLError  # type: ignore[attr-defined]
    nvml.nvmlInit = init  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCount = lambda: len(devices)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = device  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetUUID = lambda handle: handle["uuid"]  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetName = lambda handle: handle["name"]  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = lambda handle: SimpleNamespace(  # type: ignore[attr-defined]
        used=handle["used"], total=handle["total"], free=handle["total"] - handle["used"]
    )
    nvml.nvmlDeviceGetUtilizationRates = lambda handle: SimpleNamespace(gpu=handle["busy"], memory=0)  # type: ignore[attr-defined]
    return nvml


H200 = {"uuid": "GPU-1a2b3c4d-0000", "name": "NVIDIA H200", "used": 2 * 2**30, "total": 141 * 2**30, "busy": 75}
T4 = {"uuid": "GPU-99ff0000-1111", "name": b"Tesla T4", "used": 0, "total": 15 * 2**30, "busy": 0}
