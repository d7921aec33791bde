"""cog.yaml `concurrency.max` with an async predictor: one runner, several predictions at once,
through the real (solo-pool) worker."""

from datetime import datetime

from tests.live_platform import Platform


def _at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_an_async_model_with_concurrency_runs_its_predictions_side_by_side(platform: Platform):
    client = platform.client()
    predictions = [
        client.models.predictions.create(model="alice/concurrent", input={"name": name, "seconds": 1.5})
        for name in ("first", "second", "third")
    ]
    for prediction in predictions:
        prediction.wait()

    assert [(p.status, p.output) for p in predictions] == [
        ("succeeded", "first"),
        ("succeeded", "second"),
        ("succeeded", "third"),
    ]
    # Each one's logs are its own although they ran at the same time.
    assert [p.logs for p in predictions] == [f"{n} starts\n{n} ends\n" for n in ("first", "second", "third")]
    # All three were running at once: the last to start began before the first to end ended.
    latest_start = max(_at(p.started_at) for p in predictions)
    earliest_end = min(_at(p.completed_at) for p in predictions)
    assert latest_start < earliest_end
    # One runner served them: only the first paid for the boot.
    assert sorted(p.metrics["cold_boot"] for p in predictions) == [False, False, True]


def test_a_concurrent_prediction_can_be_canceled_while_others_finish(platform: Platform):
    client = platform.client()
    doomed = client.models.predictions.create(model="alice/concurrent", input={"name": "doomed", "seconds": 30})
    spared = client.models.predictions.create(model="alice/concurrent", input={"name": "spared", "seconds": 1})
    while doomed.status == "starting":
        doomed.reload()
    doomed.cancel()
    doomed.wait()
    spared.wait()

    assert doomed.status == "canceled"
    assert (spared.status, spared.output) == ("succeeded", "spared")
