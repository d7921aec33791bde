import json
from datetime import timedelta

import pytest
from django.utils import timezone

from hosting.problems import InvalidRequest
from inference.api.deadlines import parse_cancel_after
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


def test_a_prediction_past_its_deadline_in_the_queue_is_canceled_without_running(alice, echo_version):
    prediction = Prediction.objects.create(
        account=alice.account,
        model=echo_version.model,
        version=echo_version,
        deadline=timezone.now() - timedelta(seconds=1),
    )
    execution.prediction_run(prediction_id=prediction.id)  # no runner exists for this version
    prediction.refresh_from_db()
    assert prediction.status == "canceled" and prediction.output is None and prediction.error is None
