"""GPU memory and utilisation through NVML (`nvidia-ml-py`), where a driver provides it.

A machine without an NVIDIA driver (or without the package) has no GPUs to report: `readings`
answers an empty list and logs why once, never raising. NVML sees every GPU of the machine,
whatever CUDA_VISIBLE_DEVICES says, so a worker reports only the GPUs that variable gives it
(by index or UUID), as one worker per GPU is the rule (docs/scaling.md).
"""

import importlib
import logging
import os
from dataclasses import dataclass
from types import ModuleType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuReading:
    index: int
    uuid: str
    name: str
    memory_used: int  # bytes
    memory_total: int  # bytes
    utilization: float  # 0..1: the share of the last sample period a kernel ran (NVML's "gpu" rate)


_state: dict[str, ModuleType | None] = {}


def _nvml() -> ModuleType | None:
    """The initialised NVML binding, or None where there is none (tried once per process)."""
    if "nvml" in _state:
        return _state["nvml"]
    nvml: ModuleType | None = None
    try:
        nvml = importlib.import_module("pynvml")
        nvml.nvmlInit()
    except ImportError:
        logger.info("nvidia-ml-py is not installed: no GPU figures")
        nvml = None
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, …: no NVIDIA GPU here
        logger.info("NVML is not available (%s): no GPU figures", exc)
        nvml = None
    _state["nvml"] = nvml
    return nvml


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value  # older bindings answer bytes


def _visible(index: int, uuid: str, visible: str | None) -> bool:
    if visible is None:
        return True
    wanted = [entry.strip() for entry in visible.split(",") if entry.strip()]
    return any(entry == str(index) or (entry.startswith("GPU-") and uuid.startswith(entry)) for entry in wanted)


def readings() -> list[GpuReading]:
    """The GPUs this process may use, now; [] without NVML. A GPU NVML cannot read is left out."""
    nvml = _nvml()
    if nvml is None:
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    found = []
    try:
        count = nvml.nvmlDeviceGetCount()
    except Exception as exc:
        logger.warning("NVML could not count the GPUs: %s", exc)
        return []
    for index in range(count):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            if not _visible(index, uuid, visible):
                continue
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            found.append(
                GpuReading(
                    index=index,
                    uuid=uuid,
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_used=int(memory.used),
                    memory_total=int(memory.total),
                    utilization=float(rates.gpu) / 100,
                )
            )
        except Exception as exc:  # a GPU fallen off the bus must not hide the others
            logger.warning("NVML could not read GPU %d: %s", index, exc)
    return found


def reset() -> None:
    """Forget the binding (tests swap in a fake NVML module)."""
    _state.clear()
