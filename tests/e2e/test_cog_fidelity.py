"""What cog 0.23.1 accepts, Hearth accepts, through the unmodified `replicate` client: union
and cog.Opaque inputs (tests/fixtures/cog-unions) and custom metrics (record_metric); and what the
hosted service refuses, Hearth refuses: an input key the model does not take."""

import json
from pathlib import Path

import pytest
from replicate.exceptions import ReplicateError

pytestmark = pytest.mark.e2e

GOLDEN = json.loads((Path(__file__).parents[1] / "fixtures" / "cog-unions" / "cog-0.23.1.json").read_text())


@pytest.mark.parametrize("changed", [{"text_or_number": 3}, {"numbers": [1, 2.5]}, {"maybe": 4}])
def test_union_and_opaque_inputs_reach_the_predictor_as_cog_hands_them_over(platform, changed):
    # 3 for `str | float` must arrive as 3.0, [1, 2.5] for `list[int] | list[float]` as floats,
    # through the API, PostgreSQL and the worker, as cog's check_input hands them over.
    base = GOLDEN["cases"][0]["input"]
    case = next(c for c in GOLDEN["cases"] if c["input"] == {**base, **changed})
    output = platform.client().run("alice/unions", input=case["input"])

    assert output == repr({name: case["kwargs"][name] for name in GOLDEN["inputs"]})


def test_a_value_no_union_member_takes_is_a_422_naming_the_field(platform):
    client = platform.client()
    with pytest.raises(ReplicateError) as raised:
        client.predictions.create(
            version=platform.versions["unions"],
            input={"text_or_number": True, "numbers": [1], "settings": {}, "records": []},
        )
    assert raised.value.status == 422
    assert "- input.text_or_number: text_or_number must be a string or a number, not boolean" in raised.value.detail


def test_an_unknown_input_key_is_a_422_naming_it_and_nothing_runs(platform):
    client = platform.client()
    before = {p.id for p in client.predictions.list().results}
    with pytest.raises(ReplicateError) as raised:
        client.run("alice/unions", input={**GOLDEN["cases"][0]["input"], "text_or_numbr": "typo"})

    assert raised.value.status == 422
    assert "- input.text_or_numbr: Additional property text_or_numbr is not allowed" in raised.value.detail
    assert {p.id for p in client.predictions.list().results} == before


def test_recorded_metrics_reach_the_prediction(platform):
    prediction = platform.client().predictions.create(version=platform.versions["metrics"], input={"tokens": 4})
    prediction.wait()

    assert (prediction.status, prediction.output) == ("succeeded", "done")
    assert prediction.metrics["temperature"] == 0.7
    assert prediction.metrics["token_count"] == 4
    assert prediction.metrics["timing"] == {"decode": 0.25}
    assert prediction.metrics["predict_time"] > 0  # Hearth's own keys are still there


def test_a_metric_name_cog_refuses_fails_the_prediction(platform):
    prediction = platform.client().predictions.create(
        version=platform.versions["metrics"], input={"name": "cog.tokens"}
    )
    prediction.wait()

    assert prediction.status == "failed"
    assert prediction.error == "the 'cog.' prefix is reserved for system metrics"
    assert prediction.metrics["temperature"] == 0.7  # what it recorded before, as coglet keeps it
