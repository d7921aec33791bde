"""What a prediction's event stream says about its model booting: `start` says whether the
worker must boot a runner first (a cold boot), and only then does a `running` entry follow,
when the runner is up; a prediction on a warm runner costs no extra entry."""

import json

import pytest

from hosting.redis_clients import sync_client
from inference import events
from inference.models import Prediction
from inference.runtime.pool import RunnerSpec
from inference.worker import execution

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def stream_of(prediction_id: str) -> list[tuple[str, object]]:
    entries = sync_client().xrange(events.stream_key(prediction_id))
    return [(f["type"], f["data"] if f["type"] == "logs" else json.loads(f["data"])) for _, f in entries]


def kinds(prediction_id: str) -> list[str]:
    """The kinds of its entries in order, a run of `logs` entries as one."""
    found: list[str] = []
    for kind, _ in stream_of(prediction_id):
        if not (kind == "logs" and found and found[-1] == "logs"):
            found.append(kind)
    return found


def run(alice, version, text: str) -> Prediction:
    prediction = Prediction.objects.create(
        account=alice.account, model=version.model, version=version, input={"text": text}
    )
    execution.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.output) == ("succeeded", text)
    return prediction


def test_a_cold_boot_is_announced_and_its_end_marked(alice, echo_version, pool):
    first = run(alice, echo_version, "cold")
    assert first.metrics["cold_boot"] is True
    assert stream_of(first.id)[0] == ("start", {"booting": True})
    assert kinds(first.id) == ["start", "running", "logs", "done"]


def test_a_warm_runner_goes_straight_to_running(alice, echo_version, pool):
    run(alice, echo_version, "boots it")
    warm = run(alice, echo_version, "warm")
    assert warm.metrics["cold_boot"] is False
    assert stream_of(warm.id)[0] == ("start", {"booting": False})
    assert kinds(warm.id) == ["start", "logs", "done"]  # no extra entry


def test_a_boot_that_fails_ends_the_stream_without_running(alice, echo_version, pool, tmp_path):
    (tmp_path / "predict.py").write_text("raise RuntimeError('no weights')\n")
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    execution.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == "failed"
    assert kinds(prediction.id) == ["start", "done"]
    assert stream_of(prediction.id)[0] == ("start", {"booting": True})


def test_the_pool_tells_whether_a_version_has_a_runner_up(pool, tmp_path):
    spec = RunnerSpec(key="v1", project_dir=tmp_path, predictor_ref="predict.py:Predictor", env={})
    assert not pool.has_runner("v1")
    pool.acquire(spec).release()
    assert pool.has_runner("v1") and not pool.has_runner("v2")
    pool.close()
    assert not pool.has_runner("v1")
