import json
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import UsageRecord
from hosting.problems import InvalidRequest
from inference.api.deadlines import parse_cancel_after
from inference.api.streaming import replay_from_database
from inference.models import Prediction
from inference.worker import execution


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("90", 90), ("5", 5), ("1m30s", 90), ("5500ms", 5.5), (" 10s ", 10)],
)
def test_durations_are_parsed(value, seconds):
    assert parse_cancel_after(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "soon", "5 minutes", "-5s", "1d", "4s", "3", "s"])
def test_bad_or_too_short_durations_are_refused(value):
    with pytest.raises(InvalidRequest) as raised:
        parse_cancel_after(value)
    assert raised.value.extra["invalid_fields"][0]["field"] == "Cancel-After"


def test_the_api_stores_the_deadline(api, alice, echo_version):
    response = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {}}),
        content_type="application/json",
        HTTP_CANCEL_AFTER="2m",
        **alice.auth,
    )
    assert response.status_code == 201
    prediction = Prediction.objects.get(id=response.json()["id"])
    assert timedelta(seconds=115) < prediction.deadline - prediction.created_at <= timedelta(seconds=121)


def test_the_api_refuses_a_bad_cancel_after_and_stores_nothing(api, alice, echo_version):
    response = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {}}),
        content_type="application/json",
        HTTP_CANCEL_AFTER="whenever",
        **alice.auth,
    )
    assert response.status_code == 400
    assert response.json()["invalid_fields"][0]["field"] == "Cancel-After"
    assert not Prediction.objects.exists()


def _queued(alice, echo_version, *, deadline) -> Prediction:
    return Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, deadline=deadline
    )


def test_a_prediction_past_its_deadline_in_the_queue_is_aborted_without_running_or_billing(alice, echo_version):
    prediction = _queued(alice, echo_version, deadline=timezone.now() - timedelta(seconds=1))
    execution.prediction_run(prediction_id=prediction.id)  # no runner exists for this version
    prediction.refresh_from_db()
    assert prediction.status == "aborted" and prediction.output is None and prediction.error is None
    assert prediction.started_at is None and prediction.completed_at is not None  # it never started
    assert "predict_time" not in prediction.metrics and "cost" not in prediction.metrics
    assert not UsageRecord.objects.filter(prediction=prediction).exists()


class _SlowBootPool:
    """A pool whose runner boots past the prediction's deadline; the runner must never predict."""

    def __init__(self, boot_seconds: float) -> None:
        self.boot_seconds, self.released = boot_seconds, 0
        self.runner = SimpleNamespace(max_concurrency=1, predict=self._never)

    @staticmethod
    def _never(**kwargs):
        raise AssertionError("a prediction past its deadline before it started must not run")

    def has_runner(self, sha256: str) -> bool:
        return False

    def acquire(self, spec):
        time.sleep(self.boot_seconds)
        return SimpleNamespace(runner=self.runner, cold_boot=True, release=self._release)

    def _release(self) -> None:
        self.released += 1


def test_a_deadline_that_passes_while_the_model_boots_aborts_it_and_keeps_the_runner(alice, echo_version, monkeypatch):
    pool = _SlowBootPool(boot_seconds=0.3)
    monkeypatch.setattr(execution, "_pool", pool)
    monkeypatch.setattr(execution, "_runner_spec", lambda version: None)  # echo_version has no package
    prediction = _queued(alice, echo_version, deadline=timezone.now() + timedelta(seconds=0.2))
    execution.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == "aborted" and prediction.started_at is None
    assert pool.released == 1  # back in the pool, warm, for the next prediction
    assert not UsageRecord.objects.filter(prediction=prediction).exists()


def _aborted(alice, echo_version) -> Prediction:
    prediction = _queued(alice, echo_version, deadline=timezone.now() - timedelta(seconds=1))
    execution.prediction_run(prediction_id=prediction.id)
    return prediction


@pytest.mark.parametrize(
    ("user_agent", "status"),
    [
        ("replicate-python/1.0.7", "canceled"),  # its pydantic model refuses any other status
        ("replicate-javascript/1.4.0", "canceled"),  # its wait() would poll an aborted one for ever
        ("curl/8.5.0", "aborted"),
        ("python-httpx/0.28.1", "aborted"),
        (None, "aborted"),
    ],
)
def test_aborted_is_told_to_every_caller_but_the_official_clients(api, alice, echo_version, user_agent, status):
    prediction = _aborted(alice, echo_version)
    headers = {**alice.auth, **({"HTTP_USER_AGENT": user_agent} if user_agent else {})}
    got = api.get(f"/v1/predictions/{prediction.id}", **headers).json()
    listed = api.get("/v1/predictions", **headers).json()["results"]
    canceled = api.post(f"/v1/predictions/{prediction.id}/cancel", **headers).json()  # already over: as it is
    assert got["status"] == listed[0]["status"] == canceled["status"] == status
    assert Prediction.objects.get(pk=prediction.pk).status == "aborted"  # what is stored never changes


def test_the_prediction_carries_its_deadline_in_rfc_3339(api, alice, echo_version):
    created = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {}}),
        content_type="application/json",
        HTTP_CANCEL_AFTER="90s",
        **alice.auth,
    ).json()
    stored = Prediction.objects.get(id=created["id"])
    assert created["deadline"] == stored.deadline.isoformat().replace("+00:00", "Z")
    from_creation = parse_datetime(created["deadline"]) - parse_datetime(created["created_at"])
    assert abs(from_creation - timedelta(seconds=90)) < timedelta(seconds=1)
    got = api.get(f"/v1/predictions/{created['id']}", **alice.auth).json()
    assert got["deadline"] == created["deadline"]
    without = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {}}),
        content_type="application/json",
        **alice.auth,
    ).json()
    assert without["deadline"] is None


def test_the_openapi_document_has_the_deadline_and_the_aborted_status(api, db):
    schemas = api.get("/v1/openapi.json").json()["components"]["schemas"]
    prediction = schemas["Prediction"]
    assert "deadline" in prediction["properties"] and "deadline" in prediction["required"]
    status = prediction["properties"]["status"]
    assert "aborted" in status["enum"] and "canceled" in status["description"]


def test_the_stream_of_an_aborted_prediction_ends_as_canceled(alice, echo_version):
    prediction = _aborted(alice, echo_version)
    prediction.refresh_from_db()
    assert replay_from_database(prediction).endswith('event: done\nid: 0-1\ndata: {"reason":"canceled"}\n\n')


def test_the_prediction_page_shows_an_aborted_prediction_as_over(client, alice, echo_version):
    prediction = _aborted(alice, echo_version)
    client.login(username="alice", password="correct horse 9")
    page = client.get(f"/p/{prediction.id}").content.decode()
    cancel_form = re.search(r"<form[^>]*data-cancel-form[^>]*>", page)
    assert cancel_form and " hidden" in cancel_form[0]  # nothing left to cancel
    assert 'data-status-value="aborted"' in page
