"""/metrics for operators on the real platform: predictions that succeed, fail, are canceled
while running (by the worker) and while queued (by the web process), and a webhook, then a scrape
parsed as Prometheus parses it. Other tests share the platform, so every figure is a difference
between two scrapes, and the histograms (per hardware) are taken once the cpu queue is idle."""

import time
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FIXTURE_MODELS
from tests.live_platform import _push
from tests.local_http import QuietHandler, serving

pytestmark = pytest.mark.e2e

MODEL = "alice/outcomes"
TIMINGS = ("queue", "boot", "setup", "predict", "overhead")


def scrape(platform) -> dict:
    """Every sample, by (name, sorted labels)."""
    headers = {}
    if platform.env.get("METRICS_TOKEN"):
        headers["Authorization"] = f"Bearer {platform.env['METRICS_TOKEN']}"
    response = httpx.get(f"{platform.url}/metrics", headers=headers, timeout=10)
    response.raise_for_status()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return result


class _Receiver(QuietHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def version(platform, django_db_blocker) -> str:
    with django_db_blocker.unblock():
        return _push(FIXTURE_MODELS / "outcomes", MODEL)


def test_a_scrape_after_real_predictions_counts_each_outcome_and_timing(platform, version):
    client = platform.client()

    def cpu_idle() -> bool:
        samples = scrape(platform)
        return not any(
            value(samples, "hearth_queue_predictions", hardware="cpu", state=s) for s in ("queued", "running")
        )

    wait_until(cpu_idle, "the cpu queue never went idle", timeout=120)
    before = scrape(platform)

    with serving(_Receiver) as receiver:
        succeeded = client.predictions.create(
            version=version,
            input={"outcome": "succeed"},
            webhook=f"{receiver}/hook",
            webhook_events_filter=["completed"],
        )
        succeeded.wait()
        failed = client.predictions.create(version=version, input={"outcome": "fail"})
        failed.wait()
        running = client.predictions.create(version=version, input={"outcome": "sleep", "seconds": 60})
        wait_until(lambda: running.reload() or "sleeping" in (running.logs or ""), "it never started")
        queued = client.predictions.create(version=version, input={"outcome": "succeed"})  # behind it: one worker
        queued.reload()
        assert queued.status == "starting"
        queued.cancel()
        running.cancel()
        running.wait()
        queued.wait()
        made = [succeeded, failed, running, queued]
        assert [p.status for p in made] == ["succeeded", "failed", "canceled", "canceled"]
        for prediction in made:
            prediction.reload()

        expected = {
            ("hearth_predictions_total", "succeeded"): 1,
            ("hearth_predictions_total", "failed"): 1,
            ("hearth_predictions_total", "canceled"): 2,
        }

        def counted() -> dict | None:
            after = scrape(platform)
            deltas = {
                (name, status): value(after, name, model=MODEL, hardware="cpu", status=status)
                - value(before, name, model=MODEL, hardware="cpu", status=status)
                for name, status in expected
            }
            delivered = value(after, "hearth_webhook_deliveries_total", event="completed", outcome="delivered")
            done = deltas == expected and delivered > value(
                before, "hearth_webhook_deliveries_total", event="completed", outcome="delivered"
            )
            return after if done else None

        after = wait_until(counted, "the counts never matched")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("hearth_webhook_deliveries_total", event="completed", outcome="delivered") == 1

    # Each timing's count and sum against the predictions' own metrics: the three that reached
    # the runner were claimed and predicted (the first of them after a cold boot); the one
    # canceled in the queue never ran.
    ran = [p for p in made if "predict_time" in p.metrics]
    booted = [p for p in ran if "boot_time" in p.metrics]
    assert len(ran) == 3 and len(booted) >= 1 and succeeded.metrics["cold_boot"] is True
    counts = {timing: delta(f"hearth_prediction_{timing}_seconds_count", hardware="cpu") for timing in TIMINGS}
    assert counts == {"queue": 3, "boot": len(booted), "setup": len(booted), "predict": 3, "overhead": 3}
    assert delta("hearth_prediction_predict_seconds_sum", hardware="cpu") == pytest.approx(
        sum(p.metrics["predict_time"] for p in ran), abs=1e-3
    )
    assert delta("hearth_prediction_boot_seconds_sum", hardware="cpu") == pytest.approx(
        sum(p.metrics["boot_time"] for p in booted), abs=1e-3
    )
    assert delta("hearth_prediction_predict_seconds_bucket", hardware="cpu", le="+Inf") == 3
    overhead = delta("hearth_prediction_overhead_seconds_sum", hardware="cpu")
    assert 0 < overhead < sum(p.metrics["total_time"] for p in ran)
    charged = sum(Decimal(p.metrics["cost"]) for p in ran)
    assert charged > 0 and delta("hearth_spend_dollars_total", hardware="cpu") == pytest.approx(float(charged))


def test_the_worker_reports_its_runners_and_their_memory(platform, version):
    client = platform.client()
    assert client.run(f"{MODEL}:{version}", input={"outcome": "succeed"}) == "done"  # its runner is up now

    def reported() -> dict | None:
        samples = scrape(platform)
        runners = {labels: v for (name, labels), v in samples.items() if name == "hearth_runners"}
        memory = {labels: v for (name, labels), v in samples.items() if name == "hearth_runner_memory_bytes"}
        mine = [dict(labels) for labels in runners if dict(labels)["model"] == MODEL]
        sizes = [v for labels, v in memory.items() if dict(labels)["model"] == MODEL]
        return {"runners": mine, "sizes": sizes} if mine and sizes else None

    found = wait_until(reported, "the worker never reported the runner", timeout=30)
    (runner,) = found["runners"]
    assert runner["version"] == version and runner["state"] in ("warm", "busy")
    assert runner["worker"].rsplit(":", 1)[1].isdigit()  # host:pid
    assert found["sizes"][0] > 10_000_000  # a Python process with cog imported
