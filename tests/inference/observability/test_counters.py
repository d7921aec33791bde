"""The operators' counters and histograms in Redis: written where predictions end and webhooks
go out, read back cumulative (real PostgreSQL and Redis)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosting.redis_clients import sync_client
from inference import services, webhooks
from inference.models import Prediction
from inference.observability import counters
from inference.worker import liveness
from tests.local_http import QuietHandler, serving


@pytest.fixture(autouse=True)
def _no_counts_of_other_tests():
    counters.flush()
    sync_client().delete(counters.KEY)
    yield
    counters.flush()
    sync_client().delete(counters.KEY)


def read() -> counters.Figures:
    counters.flush()  # what the sender thread sends within a second
    return counters.read()


def _prediction(version, **fields) -> Prediction:
    return Prediction.objects.create(
        account=version.model.owner, version=version, model=version.model, hardware=version.model.hardware, **fields
    )


def _end(prediction: Prediction) -> None:
    """As every path that ends a prediction does."""
    counters.prediction_ended(prediction)


def test_a_cold_prediction_is_counted_with_its_timings_and_charge(echo_version):
    prediction = _prediction(
        echo_version,
        status=Prediction.Status.SUCCEEDED,
        metrics={
            "queue_time": 0.2,
            "boot_time": 3.0,
            "setup_time": 2.5,
            "predict_time": 0.04,
            "total_time": 3.3,
            "cost": "0.000040",
            "cold_boot": True,
        },
    )
    _end(prediction)
    figures = read()
    hardware = echo_version.model.hardware_id
    assert figures.predictions == {(echo_version.model_id, hardware, "succeeded"): 1}
    predict = figures.histograms["predict"][hardware]
    assert dict(predict.buckets)["0.025"] == 0 and dict(predict.buckets)["0.05"] == 1
    assert predict.buckets[-1] == ("+Inf", 1) and predict.sum == pytest.approx(0.04)
    assert dict(figures.histograms["boot"][hardware].buckets)["2.5"] == 0
    assert dict(figures.histograms["boot"][hardware].buckets)["5.0"] == 1
    assert figures.histograms["setup"][hardware].sum == pytest.approx(2.5)
    # total less queue, boot and predict: 3.3 - 0.2 - 3.0 - 0.04 = 0.06
    overhead = figures.histograms["overhead"][hardware]
    assert overhead.sum == pytest.approx(0.06) and dict(overhead.buckets)["0.05"] == 0
    assert dict(overhead.buckets)["0.1"] == 1
    assert figures.spend == {hardware: pytest.approx(0.00004)}
    assert "queue" not in figures.histograms  # observed at the claim, not here


def test_a_warm_prediction_has_no_boot_and_counts_add_up(echo_version):
    for predict_time in (0.5, 1.5):
        _end(
            _prediction(
                echo_version,
                status=Prediction.Status.FAILED,
                metrics={"queue_time": 0.0, "predict_time": predict_time, "total_time": predict_time + 0.01},
            )
        )
    figures = read()
    hardware = echo_version.model.hardware_id
    assert figures.predictions == {(echo_version.model_id, hardware, "failed"): 2}
    assert "boot" not in figures.histograms and figures.spend == {}
    predict = figures.histograms["predict"][hardware]
    assert dict(predict.buckets)["1.0"] == 1 and dict(predict.buckets)["2.5"] == 2 and predict.sum == 2.0
    assert figures.histograms["overhead"][hardware].buckets[-1] == ("+Inf", 2)


def test_a_prediction_canceled_in_the_queue_is_counted_by_the_web_process(echo_version):
    prediction = _prediction(echo_version)
    services.prediction_cancel(prediction=prediction)
    figures = read()
    assert figures.predictions == {(echo_version.model_id, echo_version.model.hardware_id, "canceled"): 1}
    assert figures.histograms == {}  # it never ran


def test_the_sweep_counts_the_predictions_it_fails(echo_version, settings):
    settings.PREDICTION_REQUEUE_SECONDS, settings.PREDICTION_MAX_QUEUE_SECONDS = 30, 60
    an_hour_ago = timezone.now() - timedelta(hours=1)
    _prediction(echo_version, status=Prediction.Status.PROCESSING, started_at=an_hour_ago, attempts=2)  # lost twice
    never_claimed = _prediction(echo_version)
    Prediction.objects.filter(pk=never_claimed.pk).update(created_at=an_hour_ago)
    assert liveness.prediction_sweep_lost() + liveness.prediction_sweep_unclaimed() == 2
    assert read().predictions == {(echo_version.model_id, echo_version.model.hardware_id, "failed"): 2}


def test_the_time_queued_is_observed_at_the_claim(echo_version):
    created = timezone.now()
    prediction = _prediction(echo_version, status=Prediction.Status.PROCESSING)
    prediction.created_at, prediction.started_at = created, created + timedelta(seconds=7)
    counters.prediction_claimed(prediction)
    queue = read().histograms["queue"][echo_version.model.hardware_id]
    assert dict(queue.buckets)["5.0"] == 0 and dict(queue.buckets)["10.0"] == 1 and queue.sum == 7.0


def test_buckets_stay_cumulative_when_a_release_changed_them():
    figures = counters.parse(
        [
            ("hist:predict:1:0.3", "2"),  # a bound this release no longer has: counted at 0.5
            ("hist:predict:1:0.5", "1"),
            ("hist:predict:1:+Inf", "1"),
            ("hist:predict:1:sum", "9.5"),
            ("hist:gone:1:0.5", "4"),  # a histogram this release no longer has
            ("not ours", "1"),
        ]
    )
    buckets = dict(figures.histograms["predict"][1].buckets)
    assert buckets["0.25"] == 0 and buckets["0.5"] == 3 and buckets["3600.0"] == 3 and buckets["+Inf"] == 4
    assert list(figures.histograms) == ["predict"]


def test_counts_a_flush_could_not_send_go_with_the_next_one(echo_version):
    sync_client().set(counters.KEY, "not a hash")  # every HINCRBY on it fails
    _end(_prediction(echo_version, status=Prediction.Status.SUCCEEDED))
    counters.flush()
    sync_client().delete(counters.KEY)
    assert sum(read().predictions.values()) == 1


class _Receiver(QuietHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500 if self.path == "/reject" else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_webhook_deliveries_are_counted_by_outcome(settings, echo_version):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with serving(_Receiver) as url:
        for event, target in [
            ("completed", f"{url}/hook"),
            ("start", f"{url}/hook"),
            ("completed", f"{url}/reject"),
            ("completed", "http://127.0.0.1:9/closed"),  # nothing listens on the discard port
            ("completed", "http://10.0.0.1/hook"),  # not in the allow-list
        ]:
            prediction = _prediction(echo_version, webhook=target)
            webhooks.deliver(prediction=prediction, event=event, body={}, message_id="msg_1", attempt=1)
    assert read().webhooks == {
        ("completed", "delivered"): 1,
        ("start", "delivered"): 1,
        ("completed", "rejected"): 1,
        ("completed", "unreachable"): 1,
        ("completed", "refused"): 1,
    }
