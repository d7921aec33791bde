"""The zoo's packages as the tests use them: a package's modules loaded by path, a runner of it
started as the platform starts one, and its predictor set up in this process."""

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from inference.runtime.runner import Runner

ZOO = Path(__file__).resolve().parents[2] / "zoo"
REF = "predict.py:Predictor"

# For runners of the tiny models in tests. On two CPU cores shared with other processes, torch's
# second thread mostly makes the first wait for it at every operation (runs measured 10 to 50
# times slower than with one thread); tiny models have nothing to gain from it anyway.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def load_package_module(package: Path, name: str) -> ModuleType:
    # By path: a package's directory name is no Python package name.
    spec = importlib.util.spec_from_file_location(f"{package.name.replace('-', '_')}_{name}", package / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def started_runner(package: Path, env: dict[str, str]) -> Iterator[Runner]:
    """The package's predictor in a runner process of its own, stopped afterwards."""
    runner = Runner.start(project_dir=package, predictor_ref=REF, env=env)
    try:
        yield runner
    finally:
        runner.stop()


def set_up_in_process(predict_module: ModuleType, env: dict[str, str]) -> Any:
    """A package's predictor (from its loaded predict.py) in this process, set up with `env`
    in its environment, for what a runner cannot show: its attributes, the output to expect."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        predictor = predict_module.Predictor()
        predictor.setup()
    return predictor


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
