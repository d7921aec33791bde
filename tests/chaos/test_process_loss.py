"""A Celery worker or a runner child SIGKILLed with predictions in flight (as the OOM killer
would): see scenario.py for what must hold."""

import pytest

from tests.chaos.chaos_platform import parent_pid
from tests.chaos.scenario import FaultRun

pytestmark = pytest.mark.e2e

# Eight 2 s predictions on two workers take 8 s; a lost prediction waits for its heartbeat key
# to lapse (3 s), then for beat's sweep (every 5 s) and a free worker.
BOUND_SECONDS = 40
API_BACK_SECONDS = 5


def test_a_worker_killed_mid_prediction(chaos):
    run = FaultRun(chaos, "worker-killed")
    run.submit(8, seconds=2)
    victim, runner = run.running()
    worker = parent_pid(runner)
    assert worker in chaos.worker_pids()
    with run.probing(bound=BOUND_SECONDS):
        chaos.kill(worker)
        run.api_answers(within=API_BACK_SECONDS)
    run.assert_accounted(ran_twice={victim})
    # make run's supervisor brought the worker back, and said what had happened.
    assert worker not in chaos.worker_pids()
    assert any(f"(pid {worker}) was killed by SIGKILL" in line for line in chaos.supervisor_lines)


def test_a_runner_killed_mid_prediction(chaos):
    run = FaultRun(chaos, "runner-killed")
    run.submit(8, seconds=2)
    victim, runner = run.running()
    workers = chaos.worker_pids()
    with run.probing(bound=BOUND_SECONDS):
        chaos.kill(runner)
        run.api_answers(within=API_BACK_SECONDS)
    # The one it was running fails and says why; the worker lives on and boots another runner.
    run.assert_accounted(failed={victim: "Runner process exited unexpectedly"})
    assert chaos.worker_pids() == workers
