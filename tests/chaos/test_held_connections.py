"""Requests that wait on Redis hold no database connection while they wait: with more SSE
streams and `Prefer: wait` creates open at once than the web process has pooled connections
(DATABASE_POOL_MAX_SIZE, 8), another request is answered at once, not after the pool's 10 s
timeout (hosting/database.py)."""

import threading
import time

import httpx
import pytest

from inference.models import Prediction
from tests.chaos.scenario import CREATE_PATH

pytestmark = pytest.mark.e2e

HELD = 9  # one more than the pool's connections
ANSWERED_WITHIN_SECONDS = 2.0  # a read takes about 40 ms here; one that waits for the pool, 10 s


def test_open_streams_and_waiting_creates_leave_the_api_answering(chaos):
    with chaos.http() as http:
        long = http.post(CREATE_PATH, json={"input": {"tag": "held-stream", "seconds": 30}}).json()
        waited: list[dict] = []

        def read_stream() -> None:
            with httpx.stream("GET", long["urls"]["stream"], timeout=60) as response:
                for _line in response.iter_lines():
                    pass

        def create_and_wait(index: int) -> None:
            with chaos.http(timeout=30) as own:
                body = {"input": {"tag": f"held-wait-{index}", "seconds": 30}}
                waited.append(own.post(CREATE_PATH, json=body, headers={"Prefer": "wait=5"}).json())

        threads = [threading.Thread(target=read_stream) for _ in range(HELD)]
        threads += [threading.Thread(target=create_and_wait, args=(index,)) for index in range(HELD)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # every stream open, every create waiting

        began = time.monotonic()
        listed = http.get("/v1/predictions")
        answered_after = time.monotonic() - began
        print(f"\n[chaos] a list with {HELD} streams and {HELD} waits open answered in {answered_after:.3f} s")
        assert listed.status_code == 200 and answered_after < ANSWERED_WITHIN_SECONDS

        for thread in threads[HELD:]:
            thread.join(timeout=30)
        for prediction in [long, *waited]:  # nothing of this test is left running for the next
            assert http.post(f"/v1/predictions/{prediction['id']}/cancel").status_code == 200
        for thread in threads[:HELD]:
            thread.join(timeout=30)
    ids = [long["id"], *(prediction["id"] for prediction in waited)]
    assert len(ids) == HELD + 1
    deadline = time.monotonic() + 30
    while Prediction.objects.filter(pk__in=ids).exclude(status__in=Prediction.TERMINAL_STATUSES).exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
