"""The warm pool with real runner processes: reuse, idle unload, keep-warm, LRU eviction,
concurrent leases and the memory budget."""

import os
import threading
import time

import pytest

from inference.runtime.pool import NoRoomForInstance, RunnerPool, RunnerSpec, resident_memory
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
    return RunnerSpec(
        key=key, project_dir=project, predictor_ref="predict.py:Predictor", env={}, idle_timeout=idle_timeout
    )


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
    (tmp_path / "predict.py").write_text(
        PREDICTOR.replace("def predict", "def setup(self):\n        raise RuntimeError('no weights')\n    def predict")
    )
    for _ in range(2):
        with pytest.raises(RunnerSetupError, match="no weights"), pool.lease(spec(tmp_path)):
            pass


def test_a_relative_project_directory_works(pool, project, monkeypatch):
    monkeypatch.chdir(project.parent)
    relative = RunnerSpec(
        key="rel", project_dir=project.relative_to(project.parent), predictor_ref="predict.py:Predictor", env={}
    )
    with pool.lease(relative) as (runner, _):
        assert runner.predict(prediction_id="p", input={"text": "ok"}).output == "ok"


CONCURRENT_PREDICTOR = """
import cog
from cog import BasePredictor
class Predictor(BasePredictor):
    @cog.concurrent(max=2)
    async def predict(self, text: str = "hi") -> str:
        return text
"""


def test_a_runner_is_lent_to_as_many_predictions_as_its_predictor_allows(pool, tmp_path):
    (tmp_path / "predict.py").write_text(CONCURRENT_PREDICTOR)
    first, second = pool.acquire(spec(tmp_path)), pool.acquire(spec(tmp_path))
    assert first.runner is second.runner and first.cold_boot and not second.cold_boot

    third: list = []
    waiter = threading.Thread(target=lambda: third.append(pool.acquire(spec(tmp_path))))
    waiter.start()
    waiter.join(0.5)
    assert third == []  # the runner is full: the third waits for a lease to end

    first.release()
    waiter.join(5)
    assert third[0].runner is first.runner and not third[0].cold_boot
    second.release()
    third[0].release()


def test_over_the_memory_budget_the_least_recently_used_idle_runner_makes_room(project):
    # Each runner counts as 600 units against a budget of 1000: the second must evict the first.
    pool = RunnerPool(max_runners=8, memory_budget=1000, memory_of=lambda pid: 600)
    try:
        with pool.lease(spec(project, key="a")) as (a, _):
            pass
        with pool.lease(spec(project, key="b")) as (b, cold):
            assert cold
        assert not a.is_alive() and b.is_alive()
    finally:
        pool.close()


def test_a_runner_in_use_is_not_evicted_for_memory(project):
    pool = RunnerPool(max_runners=8, memory_budget=1000, memory_of=lambda pid: 600)
    try:
        with pool.lease(spec(project, key="a")) as (a, _), pool.lease(spec(project, key="b")) as (b, _):
            assert a.is_alive() and b.is_alive()
    finally:
        pool.close()


def test_resident_memory_is_read_for_a_live_process():
    assert resident_memory(os.getpid()) > 10 * 1024**2  # this interpreter, with Django loaded
    assert resident_memory(2**22 + 7) == 0  # no such process


# --- deployments' kept instances (keep_warm) --------------------------------------------------


def test_a_kept_instance_outlives_its_idle_timeout_and_room_making_until_released(pool, project):
    assert pool.keep_warm(spec(project, key="kept", idle_timeout=0.0)) is True
    assert pool.keep_warm(spec(project, key="kept", idle_timeout=0.0)) is False  # up already
    assert pool.reap_idle() == []
    with pool.lease(spec(project, key="b")):
        pass
    with pool.lease(spec(project, key="c")) as (_, cold):  # max_runners=2: b makes room, not kept
        assert cold
    assert pool.states() == {"kept": "warm", "c": "warm"}
    pool.release_warm("kept")
    assert pool.reap_idle() == ["kept"]


def test_kept_instances_stay_within_the_memory_budget(project):
    # Each runner counts as 600 units against a budget of 1000: a second kept one cannot fit,
    # since a kept runner is never stopped to make room. One that is only leased can.
    pool = RunnerPool(max_runners=8, memory_budget=1000, memory_of=lambda pid: 600)
    try:
        assert pool.keep_warm(spec(project, key="a")) is True
        with pytest.raises(NoRoomForInstance, match="RUNNER_MEMORY_BUDGET"):
            pool.keep_warm(spec(project, key="b"))
        assert pool.states() == {"a": "warm"}
        pool.release_warm("a")
        assert pool.keep_warm(spec(project, key="b")) is True  # a, no longer kept, makes room
        assert pool.states() == {"b": "warm"}
    finally:
        pool.close()


def test_kept_instances_stay_within_max_runners(pool, project):
    assert pool.keep_warm(spec(project, key="a")) and pool.keep_warm(spec(project, key="b"))
    with pytest.raises(NoRoomForInstance, match="MAX_WARM_RUNNERS"):
        pool.keep_warm(spec(project, key="c"))
    assert sorted(pool.states()) == ["a", "b"]


def test_states_tell_booting_busy_and_warm(pool, project):
    with pool.lease(spec(project, key="busy")):
        assert pool.states() == {"busy": "busy"}
        booting = threading.Thread(target=pool.keep_warm, args=(spec(project, key="new"),))
        booting.start()
        deadline = time.monotonic() + 10
        while pool.states().get("new") != "booting":
            assert time.monotonic() < deadline
            time.sleep(0.005)
        booting.join()
    assert pool.states() == {"busy": "warm", "new": "warm"}


def test_two_threads_asking_for_one_version_boot_it_once(project):
    starts = []

    def counting_start(**kwargs):
        from inference.runtime.runner import Runner

        starts.append(kwargs["project_dir"])
        return Runner.start(**kwargs)

    pool = RunnerPool(max_runners=2, start=counting_start)
    try:
        keeper = threading.Thread(target=pool.keep_warm, args=(spec(project),))
        keeper.start()
        with pool.lease(spec(project)) as (runner, _):
            assert runner.predict(prediction_id="p", input={"text": "once"}).output == "once"
        keeper.join()
        assert len(starts) == 1
    finally:
        pool.close()
