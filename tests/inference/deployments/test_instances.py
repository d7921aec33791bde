"""Deployments' minimum instances kept by workers (real runners, Redis and PostgreSQL), and the
autoscaling figures: /metrics/scaling and /metrics."""

import time

import pytest
from django.test import override_settings

from hosting.redis_clients import sync_client
from inference.deployments import instances, scaling
from inference.deployments.services import deployment_create, deployment_release
from inference.models import Deployment, Prediction
from inference.runtime.pool import RunnerPool, RunnerSpec
from inference.worker.instances import InstanceKeeper
from tests.conftest import another_version

PREDICTOR = """
from cog import BasePredictor
class Predictor(BasePredictor):
    def predict(self, text: str = "hi") -> str:
        return text
"""


@pytest.fixture(autouse=True)
def _no_reports_of_other_tests():
    client = sync_client()
    for pattern in ("hearth:worker:*", "hearth:instance:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "predict.py").write_text(PREDICTOR)
    return tmp_path


def keeper_with_pool(project, number: int, *, max_runners: int = 2) -> tuple[InstanceKeeper, RunnerPool]:
    """A worker's keeper, with a pool of its own whose runners run PREDICTOR for any version."""
    pool = RunnerPool(max_runners=max_runners)
    keeper = InstanceKeeper(
        pool,
        lambda version: RunnerSpec(
            key=version.sha256, project_dir=project, predictor_ref="predict.py:Predictor", env={}, idle_timeout=0.0
        ),
    )
    keeper.worker = f"test-worker-{number}"
    return keeper, pool


@pytest.fixture
def workers(project):
    """Two workers' keepers, each with its own pool of real runners."""
    made = [keeper_with_pool(project, number) for number in (1, 2)]
    yield made
    for _, pool in made:
        pool.close()


@pytest.fixture
def deployment(alice, echo_version, cpu):
    return deployment_create(
        account=alice.account, name="echo-prod", version=echo_version, hardware=cpu, min_instances=1, max_instances=3
    )


def _kept(pool) -> list[str]:
    return [key for key, state in pool.states().items() if state == "warm"]


def test_workers_together_keep_exactly_min_instances(workers, deployment, echo_version):
    (first, first_pool), (second, second_pool) = workers
    first.tick()
    second.tick()
    assert _kept(first_pool) == [echo_version.sha256] and _kept(second_pool) == []
    assert first_pool.reap_idle() == []  # idle_timeout 0, but kept
    counts = instances.instance_counts(version=echo_version.sha256, hardware="cpu")
    assert counts == {"booting": 0, "busy": 0, "warm": 1}

    deployment_release(deployment=deployment, created_by=deployment.owner, min_instances=2)
    first.tick()
    second.tick()
    assert _kept(second_pool) == [echo_version.sha256]
    assert instances.instance_counts(version=echo_version.sha256, hardware="cpu")["warm"] == 2

    deployment_release(deployment=deployment, created_by=deployment.owner, min_instances=0)
    first.tick()
    second.tick()
    assert first_pool.reap_idle() == [echo_version.sha256] and second_pool.reap_idle() == [echo_version.sha256]


def test_a_slot_of_a_worker_that_died_is_taken_by_another(workers, deployment, echo_version):
    (first, _), (second, second_pool) = workers
    first.tick()
    second.tick()
    assert _kept(second_pool) == []
    # The first worker is gone: its claim expires (three keep-warm intervals) and is not renewed.
    for key in sync_client().scan_iter(match="hearth:instance:*"):
        sync_client().delete(key)
    second.tick()
    assert _kept(second_pool) == [echo_version.sha256]


def test_only_deployments_on_the_workers_hardware_are_kept(workers, deployment, echo_version):
    (first, first_pool), _ = workers
    with override_settings(WORKER_HARDWARE=["gpu-t4"]):
        first.tick()
    assert first_pool.states() == {}


def test_a_deleted_deployment_lets_its_instance_go(workers, deployment, echo_version):
    (first, first_pool), _ = workers
    first.tick()
    Deployment.objects.all().delete()
    first.tick()
    assert first_pool.reap_idle() == [echo_version.sha256]


def test_an_instance_that_does_not_fit_is_left_to_another_worker(project, alice, echo_version, cpu):
    # This worker's pool holds one runner: the second deployment's instance does not fit here,
    # so its slot is let go and the other worker, with room, keeps it.
    other = another_version(echo_version, "b" * 64)
    for name, version in (("first-kept", echo_version), ("second-kept", other)):
        deployment_create(
            account=alice.account, name=name, version=version, hardware=cpu, min_instances=1, max_instances=1
        )
    (small, small_pool), (large, large_pool) = (
        keeper_with_pool(project, 1, max_runners=1),
        keeper_with_pool(project, 2),
    )
    try:
        small.tick()
        assert len(_kept(small_pool)) == 1
        large.tick()
        assert _kept(large_pool) == [key for key in ("a" * 64, "b" * 64) if key not in _kept(small_pool)]
    finally:
        small_pool.close()
        large_pool.close()


# --- max_instances: at most that many workers run a deployment at once --------------------------


def _serve(keeper, deployment, version, max_instances):
    return keeper.serve(deployment_id=deployment.id, version=version.sha256, max_instances=max_instances)


def test_a_deployment_runs_on_no_more_workers_than_its_max_instances(workers, alice, echo_version, cpu):
    (first, _), (second, _) = workers
    deployment = deployment_create(
        account=alice.account, name="capped", version=echo_version, hardware=cpu, min_instances=0, max_instances=1
    )
    assert _serve(first, deployment, echo_version, 1) is True
    assert _serve(first, deployment, echo_version, 1) is True  # holds it: no second slot taken
    assert _serve(second, deployment, echo_version, 1) is False
    holders = instances.instance_holders(
        deployment_id=deployment.id, version=echo_version.sha256, slots=1, other_than=second.worker
    )
    assert holders == [first.worker]
    assert _serve(second, deployment, echo_version, 2) is True  # a release with max 2: room for one more


def test_a_serving_slot_is_freed_once_its_runner_is_gone(workers, alice, echo_version, cpu):
    (first, first_pool), (second, _) = workers
    deployment = deployment_create(
        account=alice.account, name="capped", version=echo_version, hardware=cpu, min_instances=0, max_instances=1
    )
    with override_settings(KEEP_WARM_INTERVAL_SECONDS=0.05):
        assert _serve(first, deployment, echo_version, 1) is True
        first.tick()  # just taken, its runner perhaps not begun to boot: kept
        assert _serve(second, deployment, echo_version, 1) is False
        time.sleep(0.1)
        first.tick()  # no runner of the version in its pool: the instance is gone, and its slot
        assert _serve(second, deployment, echo_version, 1) is True
        assert _serve(first, deployment, echo_version, 1) is False


def test_a_serving_slot_is_kept_while_its_runner_is_up(workers, alice, echo_version, cpu):
    (first, first_pool), (second, _) = workers
    deployment = deployment_create(
        account=alice.account, name="capped", version=echo_version, hardware=cpu, min_instances=0, max_instances=1
    )
    with override_settings(KEEP_WARM_INTERVAL_SECONDS=0.05):
        assert _serve(first, deployment, echo_version, 1) is True
        with first_pool.lease(first._spec_for(echo_version)):
            time.sleep(0.1)
            first.tick()
            assert _serve(second, deployment, echo_version, 1) is False
        time.sleep(0.1)
        assert first_pool.reap_idle() == [echo_version.sha256]  # idle_timeout 0: not pinned
        first.tick()
        assert _serve(second, deployment, echo_version, 1) is True


def test_a_kept_instance_serves_without_a_second_slot(workers, deployment, echo_version):
    (first, _), (second, _) = workers
    first.tick()  # holds the min_instances slot 0 of 3
    assert _serve(first, deployment, echo_version, 3) is True
    assert _serve(second, deployment, echo_version, 3) is True
    held = instances.instance_holders(deployment_id=deployment.id, version=echo_version.sha256, slots=3, other_than="")
    assert sorted(held) == sorted([first.worker, second.worker])


# --- the figures autoscalers read ----------------------------------------------------------------


def _predictions(version, count, *, deployment=None, status="starting"):
    for _ in range(count):
        Prediction.objects.create(
            account=version.model.owner, model=version.model, version=version, deployment=deployment, status=status
        )


def test_desired_instances_follow_the_queue_within_min_and_max(deployment, echo_version):
    assert scaling.demand().deployments["alice/echo-prod"].desired_instances == 1  # min 1, nothing queued
    _predictions(echo_version, 2, deployment=deployment)
    _predictions(echo_version, 1, deployment=deployment, status="processing")
    figures = scaling.demand()
    target = figures.deployments["alice/echo-prod"]
    assert (target.queued, target.running, target.desired_instances) == (2, 1, 3)
    _predictions(echo_version, 4, deployment=deployment)  # 7 in flight, max 3
    assert scaling.demand().deployments["alice/echo-prod"].desired_instances == 3
    _predictions(echo_version, 2)  # the model's own predictions, on the same SKU
    cpu = scaling.demand().hardware["cpu"]
    assert (cpu.queued, cpu.running, cpu.desired_instances) == (8, 1, 3 + 2)
    Prediction.objects.update(status="succeeded")
    figures = scaling.demand()
    assert figures.hardware["cpu"].desired_instances == 1 and figures.hardware["gpu-t4"].desired_instances == 0


def test_scaling_json_for_keda(api, deployment, echo_version, workers):
    workers[0][0].tick()
    _predictions(echo_version, 2, deployment=deployment)
    body = api.get("/metrics/scaling", REMOTE_ADDR="127.0.0.1").json()
    assert body["hardware"]["cpu"] == {"queued": 2, "running": 0, "workers": 1, "desired_instances": 2}
    assert body["deployments"]["alice/echo-prod"] == {
        "name": "alice/echo-prod",
        "hardware": "cpu",
        "version": echo_version.sha256,
        "min_instances": 1,
        "max_instances": 3,
        "queued": 2,
        "running": 0,
        "instances": {"booting": 0, "busy": 0, "warm": 1},
        "desired_instances": 2,
    }


def test_prometheus_metrics(api, deployment, echo_version):
    _predictions(echo_version, 3, deployment=deployment)
    response = api.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'hearth_queue_predictions{hardware="cpu",state="queued"} 3.0' in text
    assert 'hearth_desired_instances{hardware="cpu"} 3.0' in text
    assert 'hearth_deployment_desired_instances{deployment="alice/echo-prod"} 3.0' in text


def test_metrics_need_the_token_or_this_machine(api, db):
    assert api.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 403
    with override_settings(METRICS_TOKEN="s3cret"):
        assert api.get("/metrics/scaling", REMOTE_ADDR="127.0.0.1").status_code == 401
        assert api.get("/metrics/scaling", HTTP_AUTHORIZATION="Bearer wrong", REMOTE_ADDR="10.0.0.5").status_code == 401
        assert (
            api.get("/metrics/scaling", HTTP_AUTHORIZATION="Bearer s3cret", REMOTE_ADDR="10.0.0.5").status_code == 200
        )


# --- hardware no worker serves ---------------------------------------------------------------------


def test_a_prediction_for_hardware_no_worker_serves_waits_with_a_note(echo_version, cpu):
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Hardware
    from inference.worker import liveness

    instances.report(worker="cpu-worker", hardware=["cpu"], runners={})
    gpu = Prediction.objects.create(
        account=echo_version.model.owner,
        model=echo_version.model,
        version=echo_version,
        hardware=Hardware.objects.get(sku="gpu-t4"),
    )
    served = Prediction.objects.create(account=echo_version.model.owner, model=echo_version.model, version=echo_version)
    Prediction.objects.update(created_at=timezone.now() - timedelta(seconds=600))
    with override_settings(PREDICTION_REQUEUE_SECONDS=1):
        assert liveness.prediction_sweep_unclaimed() == 2
        sync_client().delete(*sync_client().keys("hearth:requeued:*") or ["none"])
        liveness.prediction_sweep_unclaimed()
    gpu.refresh_from_db()
    served.refresh_from_db()
    assert gpu.status == "starting"
    assert gpu.logs.count("No worker serving the gpu-t4 hardware is running") == 1
    assert served.logs == ""


# --- two beat schedulers -----------------------------------------------------------------------------


def test_two_beats_messages_of_one_period_run_the_job_once(db):
    from inference.worker.tasks import remove_expired_data

    sync_client().delete("hearth:beat:inference.remove_expired_data")
    # What two beat schedulers send at one tick: the first runs the job, the second is skipped.
    first = remove_expired_data.apply(headers={"beat_period": 60.0}).get()
    second = remove_expired_data.apply(headers={"beat_period": 60.0}).get()
    assert first == {"predictions": 0, "files": 0} and second == {}
    # Sent by hand (tests, an operator), with no period: it always runs.
    assert remove_expired_data.apply().get() == {"predictions": 0, "files": 0}


def test_the_warm_worker_chosen_serves_the_hardware_has_the_version_idle_and_is_another(echo_version):
    version = echo_version.sha256
    instances.report(worker="me", hardware=["cpu"], runners={version: "warm"})
    instances.report(worker="gpu-box", hardware=["gpu-t4"], runners={version: "warm"})
    instances.report(worker="busy-box", hardware=["cpu"], runners={version: "busy"})
    assert instances.warm_worker(version=version, hardware="cpu", other_than="me") is None
    instances.report(worker="idle-box", hardware=["cpu", "gpu-t4"], runners={version: "warm"})
    assert instances.warm_worker(version=version, hardware="cpu", other_than="me") == "idle-box"
    assert instances.warm_worker(version="b" * 64, hardware="cpu", other_than="me") is None
