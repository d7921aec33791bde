"""Every PostgreSQL connection of the platform's processes terminated (pg_terminate_backend, as
a database restart or failover does), three times a second apart, with predictions in flight.
See scenario.py for what must hold."""

import time

import pytest

from tests.chaos.chaos_platform import terminate_backends
from tests.chaos.scenario import FaultRun

pytestmark = pytest.mark.e2e

# One 10 s prediction runs through the fault on one worker (its spending guard grows its
# reservation every second or two) while the other runs seven of 1.5 s.
LONG_SECONDS = 10
BOUND_SECONDS = 40
API_BACK_SECONDS = 5


def test_the_database_connections_terminated(chaos):
    run = FaultRun(chaos, "backends-terminated")
    run.submit(1, seconds=LONG_SECONDS)
    run.running()  # the long one holds one worker through the fault
    run.submit(7, seconds=1.5)
    with run.probing(bound=BOUND_SECONDS):
        for _ in range(3):
            assert terminate_backends() > 0
            time.sleep(1)
        run.api_answers(within=API_BACK_SECONDS)
    run.assert_accounted()
