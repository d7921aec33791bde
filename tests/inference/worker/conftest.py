"""Fixtures of the worker's tests."""

import pytest

from inference.runtime.pool import RunnerPool, RunnerSpec
from inference.worker import execution

PREDICTOR = """
from cog import BasePredictor
class Predictor(BasePredictor):
    def predict(self, text: str = "hi") -> str:
        print("predicting", flush=True)
        return text
"""


@pytest.fixture
def pool(monkeypatch, tmp_path):
    """A pool of its own whose runners run PREDICTOR for any version."""
    (tmp_path / "predict.py").write_text(PREDICTOR)
    pool = RunnerPool(max_runners=1)
    monkeypatch.setattr(execution, "_pool", pool)
    monkeypatch.setattr(
        execution,
        "_runner_spec",
        lambda version: RunnerSpec(
            key=version.sha256, project_dir=tmp_path, predictor_ref="predict.py:Predictor", env={}
        ),
    )
    yield pool
    pool.close()
