"""Deployments through the unmodified `replicate` client, on real Daphne + Celery + runners:
create/get/list/update/delete, predictions through one (async, sync, streaming), kept-warm
minimum instances, and the autoscaling figures following the queue."""

import contextlib
import shutil
import time

import httpx
import pytest
from replicate.exceptions import ReplicateError

from hosting import processes
from inference.models import Model
from tests.conftest import ZOO
from tests.live_platform import _push

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def deployed(client, name: str, model: str, version: str, *, min_instances: int = 0, max_instances: int = 1):
    """A deployment of alice's on cpu for the length of the block."""
    deployment = client.deployments.create(
        name=name,
        model=model,
        version=version,
        hardware="cpu",
        min_instances=min_instances,
        max_instances=max_instances,
    )
    try:
        yield deployment
    finally:
        client.deployments.delete("alice", name)


@pytest.fixture
def echo_deployment(platform):
    with deployed(platform.client(), "echo-prod", "alice/echo", platform.versions["echo"], max_instances=2) as made:
        yield made


def test_create_get_list_update_delete(platform, echo_deployment):
    client = platform.client()
    assert (echo_deployment.owner, echo_deployment.name) == ("alice", "echo-prod")
    release = echo_deployment.current_release
    assert (release.number, release.model, release.version) == (1, "alice/echo", platform.versions["echo"])
    assert (release.configuration.hardware, release.configuration.min_instances) == ("cpu", 0)
    assert release.created_by.username == "alice"

    got = client.deployments.get("alice/echo-prod")
    assert got.current_release.number == 1
    assert [d.name for d in client.deployments.list().results] == ["echo-prod"]


def test_an_update_makes_the_next_release(platform, echo_deployment):
    client = platform.client()
    updated = client.deployments.update("alice", "echo-prod", max_instances=3, hardware="gpu-t4")
    release = updated.current_release
    assert release.number == 2
    assert (release.configuration.hardware, release.configuration.max_instances) == ("gpu-t4", 3)
    assert client.deployments.update("alice", "echo-prod", hardware="cpu").current_release.number == 3
    with pytest.raises(ReplicateError) as refused:
        client.deployments.update("alice", "echo-prod", version=platform.versions["tokens"])  # not alice/echo's
    assert refused.value.status == 422
    assert client.deployments.get("alice/echo-prod").current_release.number == 3


def test_delete(platform):
    client = platform.client()
    client.deployments.create(
        name="short-lived",
        model="alice/echo",
        version=platform.versions["echo"],
        hardware="cpu",
        min_instances=0,
        max_instances=1,
    )
    assert client.deployments.delete("alice", "short-lived") is True
    with pytest.raises(ReplicateError) as missing:
        client.deployments.get("alice/short-lived")
    assert missing.value.status == 404


def test_predictions_through_a_deployment(platform, echo_deployment):
    client = platform.client()
    synchronous = client.deployments.predictions.create("alice/echo-prod", input={"text": "sync"}, wait=True)
    assert (synchronous.status, synchronous.output) == ("succeeded", "sync")
    through_object = echo_deployment.predictions.create(input={"text": "object"})
    through_object.wait()
    assert through_object.output == "object"
    by_name = client.predictions.create(deployment="alice/echo-prod", input={"text": "by name"})
    by_name.wait()
    assert (by_name.status, by_name.output, by_name.version) == ("succeeded", "by name", platform.versions["echo"])
    raw = httpx.get(
        f"{platform.url}/v1/predictions/{by_name.id}", headers={"Authorization": f"Bearer {platform.alice.plaintext}"}
    ).json()
    assert raw["deployment"] == "alice/echo-prod"


def test_a_deployment_streams_tokens(platform):
    client = platform.client()
    with deployed(client, "tokens-prod", "alice/tokens", platform.versions["tokens"]):
        prediction = client.deployments.predictions.create("alice/tokens-prod", input={"text": "one two"}, stream=True)
        assert "".join(str(event) for event in prediction.stream()) == "one two"


def test_another_tenant_sees_none_of_it(platform, echo_deployment):
    bob = platform.client(platform.bob)
    for call in (
        lambda: bob.deployments.get("alice/echo-prod"),
        lambda: bob.deployments.update("alice", "echo-prod", min_instances=1),
        lambda: bob.deployments.predictions.create("alice/echo-prod", input={"text": "x"}),
        lambda: bob.deployments.delete("alice", "echo-prod"),
    ):
        with pytest.raises(ReplicateError) as refused:
            call()
        assert refused.value.status == 404
    assert bob.deployments.list().results == []
    assert platform.client().deployments.get("alice/echo-prod").current_release.number == 1


# --- kept-warm instances and cold boots ------------------------------------------------------------


def _variant(tmp_path, name: str):
    """zoo/echo with a line of its own: a version (and runner) of its own."""
    directory = tmp_path / name
    shutil.copytree(ZOO / "echo", directory)
    with (directory / "predict.py").open("a") as predictor:
        predictor.write(f"\n# {name}\n")
    return directory


def _scaling(platform) -> dict:
    return httpx.get(f"{platform.url}/metrics/scaling").json()


def test_min_instances_mean_no_cold_boot_after_an_idle_timeout(platform, django_db_blocker, tmp_path):
    with django_db_blocker.unblock():
        warm_version = _push(_variant(tmp_path, "kept-warm"), "alice/kept-warm")
        cold_version = _push(_variant(tmp_path, "left-cold"), "alice/left-cold")
        Model.objects.filter(name__in=["kept-warm", "left-cold"]).update(idle_timeout=1)
    client = platform.client()
    with deployed(client, "kept-warm", "alice/kept-warm", warm_version, min_instances=1):
        deadline = time.monotonic() + 60
        while _scaling(platform)["deployments"]["alice/kept-warm"]["instances"]["warm"] != 1:
            assert time.monotonic() < deadline, _scaling(platform)
            time.sleep(0.2)
        first_cold = client.run(f"alice/left-cold:{cold_version}", input={"text": "a"}, wait=True)
        assert first_cold == "a"
        time.sleep(3.5)  # past both models' 1 s idle timeout (the reaper looks every second)
        through_deployment = client.deployments.predictions.create("alice/kept-warm", input={"text": "b"}, wait=True)
        assert through_deployment.output == "b"
        assert through_deployment.metrics["cold_boot"] is False
        again = client.predictions.create(version=cold_version, input={"text": "c"}, wait=True)
        assert again.output == "c" and again.metrics["cold_boot"] is True
        # Cold-boot honesty: how long it queued, and the boot from process start to ready.
        assert again.metrics["boot_time"] >= again.metrics["setup_time"] > 0
        assert again.metrics["queue_time"] >= 0 and "boot_time" not in through_deployment.metrics


def test_desired_instances_follow_the_queue(platform):
    client = platform.client()
    with deployed(client, "sleeper-prod", "alice/sleeper", platform.versions["sleeper"], max_instances=3):
        assert _scaling(platform)["deployments"]["alice/sleeper-prod"]["desired_instances"] == 0
        made = [client.deployments.predictions.create("alice/sleeper-prod", input={"seconds": 1}) for _ in range(5)]
        figures = _scaling(platform)["deployments"]["alice/sleeper-prod"]
        assert figures["queued"] + figures["running"] == 5 and figures["desired_instances"] == 3  # max 3
        metrics = httpx.get(f"{platform.url}/metrics").text
        assert 'hearth_deployment_desired_instances{deployment="alice/sleeper-prod"} 3.0' in metrics
        for prediction in made:
            prediction.wait()
        assert _scaling(platform)["deployments"]["alice/sleeper-prod"]["desired_instances"] == 0


def test_with_two_workers_a_deployments_predictions_go_where_its_instance_is_warm(
    platform, django_db_blocker, tmp_path
):
    """Either worker may take a prediction from the SKU's queue; the one without the version warm
    passes it to the one that keeps the deployment's instance, so none of them cold-boots."""
    with django_db_blocker.unblock():
        version = _push(_variant(tmp_path, "two-workers"), "alice/two-workers")
    client = platform.client()
    second = processes.start_worker(
        queues="cpu", env=platform.env, output=(platform.log_dir / "worker-2.log").open("ab")
    )
    try:
        with deployed(client, "two-workers", "alice/two-workers", version, min_instances=1):
            deadline = time.monotonic() + 60
            while not (
                _scaling(platform)["hardware"]["cpu"]["workers"] == 2
                and _scaling(platform)["deployments"]["alice/two-workers"]["instances"]["warm"] == 1
            ):
                assert time.monotonic() < deadline, _scaling(platform)
                time.sleep(0.2)
            made = [
                client.deployments.predictions.create("alice/two-workers", input={"text": str(n)}, wait=True)
                for n in range(8)
            ]
            assert [p.output for p in made] == [str(n) for n in range(8)]
            assert [p.metrics["cold_boot"] for p in made] == [False] * 8
    finally:
        processes.stop(second)


_WHICH_WORKER = """
import os
import time

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, seconds: float = 0.5) -> int:
        time.sleep(seconds)
        return os.getppid()  # the worker process whose runner this is
"""


def test_max_instances_caps_how_many_workers_run_a_deployment(platform, django_db_blocker, tmp_path):
    """Two workers take from the SKU's queue, both cold: a deployment with max_instances 1 runs
    on one of them only (the other passes its predictions on rather than booting a second
    instance); one keeping two instances runs on both."""
    directory = tmp_path / "which-worker"
    directory.mkdir()
    shutil.copy(ZOO / "echo" / "cog.yaml", directory / "cog.yaml")
    (directory / "predict.py").write_text(_WHICH_WORKER)
    with django_db_blocker.unblock():
        version = _push(directory, "alice/which-worker")
    client = platform.client()
    second = processes.start_worker(
        queues="cpu", env=platform.env, output=(platform.log_dir / "worker-3.log").open("ab")
    )
    try:
        deadline = time.monotonic() + 60
        while _scaling(platform)["hardware"]["cpu"]["workers"] != 2:
            assert time.monotonic() < deadline, _scaling(platform)
            time.sleep(0.2)

        def run_six(name: str) -> set[int]:
            made = [client.deployments.predictions.create(f"alice/{name}", input={"seconds": 1}) for _ in range(6)]
            for prediction in made:
                prediction.wait()
            assert [p.status for p in made] == ["succeeded"] * 6
            return {p.output for p in made}

        with deployed(client, "which-worker-capped", "alice/which-worker", version, max_instances=1):
            assert len(run_six("which-worker-capped")) == 1
        with deployed(client, "which-worker-two", "alice/which-worker", version, min_instances=2, max_instances=2):
            while _scaling(platform)["deployments"]["alice/which-worker-two"]["instances"]["warm"] != 2:
                assert time.monotonic() < deadline + 60, _scaling(platform)
                time.sleep(0.2)
            assert len(run_six("which-worker-two")) == 2
    finally:
        processes.stop(second)
