"""Redis loses what it held or drops the platform's connections, with predictions in flight:
the hardware queue deleted, every client connection killed, the server itself restarted empty
(the platform's own redis-server, never the shared one). See scenario.py for what must hold."""

import time

import pytest

from tests.chaos.chaos_platform import SKU
from tests.chaos.scenario import FaultRun

pytestmark = pytest.mark.e2e

# A lost queue message waits for PREDICTION_REQUEUE_SECONDS (2 s) and beat's next sweep (every
# 5 s, run by whichever worker is free: they serve its queue too). For the connection faults one
# 10 s prediction runs through the fault on one worker while the other runs seven of 1.5 s, and
# the sweeps; eight of 2 s wait in the queue that is deleted.
LONG_SECONDS = 10
BOUND_SECONDS = 40
API_BACK_SECONDS = 5
REDIS_DOWN_SECONDS = 2


def test_the_hardware_queue_deleted(chaos):
    run = FaultRun(chaos, "queue-deleted")
    run.submit(8, seconds=2)
    run.running()  # predictions have started; the others wait in the queue
    with run.probing(bound=BOUND_SECONDS):
        assert chaos.redis.admin().delete(SKU) == 1
        run.api_answers(within=API_BACK_SECONDS)
    run.assert_accounted()


def test_every_redis_connection_killed(chaos):
    run = FaultRun(chaos, "connections-killed")
    run.submit(1, seconds=LONG_SECONDS)
    run.running()  # the long one holds one worker through the fault
    run.submit(7, seconds=1.5)
    admin = chaos.redis.admin()
    with run.probing(bound=BOUND_SECONDS):
        for _ in range(3):  # the web's, the workers', beat's, the cancel watchers' subscriptions
            killed = admin.client_kill_filter(_type="normal") + admin.client_kill_filter(_type="pubsub")
            assert killed > 0
            time.sleep(1)
        run.api_answers(within=API_BACK_SECONDS)
    run.assert_accounted()


def test_redis_restarted_empty(chaos):
    run = FaultRun(chaos, "redis-restarted")
    run.submit(1, seconds=LONG_SECONDS)
    run.running()  # the long one holds one worker through the fault
    run.submit(7, seconds=1.5)
    with run.probing(bound=BOUND_SECONDS):
        chaos.redis.stop()
        time.sleep(REDIS_DOWN_SECONDS)
        chaos.redis.start()  # empty: no queue, no stream, no liveness key, no rate-limit count
        run.api_answers(within=API_BACK_SECONDS)
    run.assert_accounted()
