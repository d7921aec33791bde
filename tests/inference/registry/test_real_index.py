"""One push against the real package index (PyPI), with another Python than the platform's:
what every other environment test does from wheels it makes, done as a user's push would.

Skipped, saying why, where PyPI or a Python 3.12 interpreter is not reachable; CI's machine has both.
"""

import socket
import textwrap
from pathlib import Path

import pytest

from inference.models import Model
from inference.registry import environments, push, resolution
from inference.runtime.runner import Runner

PYTHON_312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.fixture
def real_index(settings, tmp_path):
    if not PYTHON_312.exists():
        pytest.skip(f"no Python 3.12 at {PYTHON_312}")
    if not _pypi_reachable():
        pytest.skip("pypi.org is not reachable from here")
    settings.PACKAGE_INDEX_URL = "https://pypi.org/simple"
    settings.PACKAGE_FIND_LINKS = []
    settings.PYTHON_INTERPRETERS = [str(PYTHON_312)]
    settings.ENVIRONMENTS_DIR = tmp_path / "environments"
    resolution._interpreters.cache_clear()
    yield
    resolution._interpreters.cache_clear()


def test_a_pinned_numpy_on_python_312_from_pypi_is_resolved_built_and_run(real_index, alice, cpu, tmp_path):
    project = tmp_path / "numpy-model"
    project.mkdir()
    (project / "cog.yaml").write_text(
        'build:\n  python_version: "3.12"\n  python_packages:\n    - "numpy==1.26.4"\npredict: "predict.py:Predictor"\n'
    )
    (project / "predict.py").write_text(
        textwrap.dedent(
            """
            import sys
            import numpy
            from cog import BasePredictor

            class Predictor(BasePredictor):
                def predict(self) -> str:
                    return f"{sys.version_info[0]}.{sys.version_info[1]} numpy {numpy.__version__} {numpy.arange(4).sum()}"
            """
        )
    )
    model = Model.objects.create(owner=alice.account, name="numpy-model", hardware=cpu)
    version = push.version_push(model=model, project_dir=project)

    assert version.environment["runs_in"] == "own" and version.environment["python"] == "3.12"
    assert version.environment["packages"]["numpy"] == "1.26.4"
    python, in_use = environments.python_for(version.environment)
    runner = Runner.start(project_dir=project, predictor_ref="predict.py:Predictor", python=python, in_use_lock=in_use)
    try:
        result = runner.predict(prediction_id="p1", input={})
    finally:
        runner.stop()
    assert (result.status, result.output) == ("succeeded", "3.12 numpy 1.26.4 6"), result.error
