"""Fair sharing of a hardware queue, on the real worker: one account queues 200 slow
predictions, another then queues 5; the 5 start before the long queue drains, each after about
one prediction's run, and nothing is lost or run twice."""

import time

import pytest

from inference.models import Prediction
from tests.conftest import make_persona

pytestmark = pytest.mark.e2e


def test_a_burst_of_another_tenant_starts_before_a_long_queue_drains(platform, django_db_blocker):
    with django_db_blocker.unblock():
        carol = make_persona("carol-fair")
    alice, other = platform.client(), platform.client(carol)
    long_queue = [
        alice.predictions.create(version=platform.versions["sleeper"], input={"seconds": 0.2}) for _ in range(200)
    ]
    burst = [
        other.predictions.create(version=platform.versions["public-echo"], input={"text": str(n)}) for n in range(5)
    ]
    try:
        for prediction in burst:
            prediction.wait()
        with django_db_blocker.unblock():
            still_waiting = Prediction.objects.filter(pk__in=[p.id for p in long_queue], status="starting").count()
            waits = [
                (p.started_at - p.created_at).total_seconds()
                for p in Prediction.objects.filter(pk__in=[p.id for p in burst])
            ]
    finally:
        for prediction in long_queue:
            alice.predictions.cancel(prediction.id)
    assert [p.status for p in burst] == ["succeeded"] * 5
    assert [p.output for p in burst] == [str(n) for n in range(5)]
    assert still_waiting > 150, still_waiting  # the long queue had far from drained
    # Each waited for about one of the long queue's predictions (0.2 s) on the one worker, not
    # for the 40 s of all of them.
    assert max(waits) < 5, waits
    deadline = time.monotonic() + 30
    with django_db_blocker.unblock():
        while Prediction.objects.filter(
            pk__in=[p.id for p in long_queue], status__in=["starting", "processing"]
        ).exists():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        ended = Prediction.objects.filter(pk__in=[p.id for p in long_queue])
        assert set(ended.values_list("status", flat=True)) <= {"succeeded", "canceled"}
        assert not ended.filter(attempts__gt=1).exists()  # none ran twice
