"""The warm pool with real runner processes: reuse, idle unload, keep-warm, LRU eviction."""

import time

import pytest

from inference.runtime.pool import RunnerPool, RunnerSpec
from inference.runtime.runner import RunnerSetupError

PREDICTOR = """
from cog import BasePredictor
class Predictor(BasePredictor):
    def predict(self, text: str = "hi") -> str:
        return text
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "predict.py").write_text(PREDICTOR)
    return tmp_path


def spec(project, key="v1", idle_timeout=60.0) -> RunnerSpec:
    return RunnerSpec(key=key, project_dir=project, predictor_ref="predict.py:Predictor", env={},
                      idle_timeout=idle_timeout)


@pytest.fixture
def pool():
    pool = RunnerPool(max_runners=2)
    yield pool
    pool.close()


def test_a_runner_is_booted_once_and_reused(pool, project):
    with pool.lease(spec(project)) as (first, cold):
        assert cold
    with pool.lease(spec(project)) as (second, cold):
        assert not cold and second is first


def test_an_idle_runner_is_unloaded_after_its_timeout(pool, project):
    with pool.lease(spec(project, idle_timeout=0.3)) as (runner, _):
        pass
    time.sleep(1.5)  # the reaper looks every second
    assert not runner.is_alive()
    with pool.lease(spec(project, idle_timeout=0.3)) as (_, cold):
        assert cold


def test_a_kept_warm_runner_stays_loaded(pool, project):
    with pool.lease(spec(project, idle_timeout=None)) as (runner, _):
        pass
    assert pool.reap_idle() == []
    assert runner.is_alive()


def test_a_runner_in_use_is_never_unloaded(pool, project):
    with pool.lease(spec(project, idle_timeout=0.0)) as (runner, _):
        assert pool.reap_idle() == []
        assert runner.predict(prediction_id="p", input={"text": "busy"}).output == "busy"
    assert pool.reap_idle() == ["v1"]


def test_the_least_recently_used_idle_runner_makes_room(pool, project):
    with pool.lease(spec(project, key="a")) as (a, _):
        pass
    with pool.lease(spec(project, key="b")) as (b, _):
        pass
    with pool.lease(spec(project, key="a")):
        pass  # now b is the least recently used
    with pool.lease(spec(project, key="c")) as (c, cold):
        assert cold and c.is_alive()
    assert a.is_alive() and not b.is_alive()


def test_a_failed_boot_is_retried_on_the_next_lease(pool, tmp_path):
    (tmp_path / "predict.py").write_text(PREDICTOR.replace("def predict", "def setup(self):\n        raise RuntimeError('no weights')\n    def predict"))
    for _ in range(2):
        with pytest.raises(RunnerSetupError, match="no weights"):
            with pool.lease(spec(tmp_path)):
                pass


def test_a_relative_project_directory_works(pool, project, monkeypatch):
    monkeypatch.chdir(project.parent)
    relative = RunnerSpec(key="rel", project_dir=project.relative_to(project.parent),
                                       predictor_ref="predict.py:Predictor", env={})
    with pool.lease(relative) as (runner, _):
        assert runner.predict(prediction_id="p", input={"text": "ok"}).output == "ok"
