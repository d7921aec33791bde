"""The unmodified `replicate` client against real Daphne + Celery + PostgreSQL + Redis."""

import time
from datetime import datetime
from decimal import Decimal

import httpx
import pytest
import replicate
from replicate import paginate
from replicate.exceptions import ModelError, ReplicateError

from billing.money import billable_seconds, charge

pytestmark = pytest.mark.e2e


def wait_until_running(prediction, timeout=30):
    """Until predict() itself has started (its first log line has been saved)."""
    deadline = time.monotonic() + timeout
    while "sleeping" not in (prediction.logs or ""):
        assert time.monotonic() < deadline, f"still {prediction.status} with logs {prediction.logs!r}"
        time.sleep(0.05)
        prediction.reload()
    return prediction


def wait_for_status(prediction, statuses, timeout=30):
    deadline = time.monotonic() + timeout
    while prediction.status not in statuses:
        assert time.monotonic() < deadline, f"still {prediction.status}"
        time.sleep(0.05)
        prediction.reload()
    return prediction


def test_run_by_model_name_returns_the_output(platform):
    assert platform.client().run("alice/echo", input={"text": "hello hearth"}) == "hello hearth"


def test_run_by_version_fetches_the_version_and_returns_the_output(platform):
    ref = f"alice/echo:{platform.versions['echo']}"
    assert platform.client().run(ref, input={"text": "pinned"}) == "pinned"


def test_run_of_an_iterator_model_returns_every_token(platform):
    output = platform.client().run("alice/tokens", input={"text": "one two three"})
    assert "".join(output) == "one two three"
    ref = f"alice/tokens:{platform.versions['tokens']}"
    assert "".join(platform.client().run(ref, input={"text": "four five"})) == "four five"


def test_create_wait_and_reload(platform):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["chatty"], input={"n": 7})
    assert prediction.status == "starting"
    prediction.wait()
    assert prediction.status == "succeeded"
    assert prediction.output == 7
    assert prediction.logs.splitlines() == ["to stdout", "to stderr", "from the C level"]
    assert prediction.metrics["predict_time"] > 0
    assert prediction.metrics["total_time"] >= prediction.metrics["predict_time"]
    seconds = billable_seconds(prediction.metrics["predict_time"])
    assert prediction.metrics["cost"] == str(charge(seconds=seconds, price_per_second=Decimal("0.0001")))
    reloaded = client.predictions.get(prediction.id)
    assert (reloaded.status, reloaded.output, reloaded.model) == ("succeeded", 7, "alice/chatty")
    assert reloaded.completed_at and reloaded.started_at


def test_create_by_model_and_wait(platform):
    prediction = platform.client().models.predictions.create(model="alice/echo", input={"text": "async"})
    prediction.wait()
    assert (prediction.status, prediction.output) == ("succeeded", "async")


def test_create_by_version_without_input_runs_with_the_defaults(platform):
    # predictions.create(version=V) sends {"version": V} with no `input` key at all; the spec
    # requires `input` but replicate-api.md §3 says to take a missing one as {}, or this call breaks.
    prediction = platform.client().predictions.create(version=platform.versions["echo"])
    prediction.wait()
    assert (prediction.status, prediction.input, prediction.output) == ("succeeded", {}, "hello")


def test_setup_runs_once_per_warm_runner(platform):
    client = platform.client()
    first = client.predictions.create(version=platform.versions["chatty"], input={"n": 1})
    first.wait()
    second = client.predictions.create(version=platform.versions["chatty"], input={"n": 1})
    second.wait()
    # setup() sets setup_calls = 1; a second setup() in the same runner would not change
    # it, so check the metric instead: only a cold boot records setup time.
    assert second.metrics["cold_boot"] is False
    assert "setup_time" not in second.metrics


def test_a_failing_model_raises_model_error_with_its_message(platform):
    with pytest.raises(ModelError) as raised:
        platform.client().run("alice/fails", input={"reason": "out of cheese"})
    assert raised.value.prediction.error == "out of cheese"
    assert "about to fail" in raised.value.prediction.logs
    assert raised.value.prediction.status == "failed"


def test_cancel_a_running_prediction(platform):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["sleeper"], input={"seconds": 60})
    wait_until_running(prediction)
    started = time.monotonic()
    prediction.cancel()
    wait_for_status(prediction, {"canceled"}, timeout=10)
    assert time.monotonic() - started < 8
    assert "sleeping" in prediction.logs
    # The runner survives a cancel and serves the next prediction.
    assert client.run("alice/echo", input={"text": "still here"}) == "still here"


def test_cancel_a_queued_prediction_never_runs_it(platform):
    client = platform.client()
    blocker = client.predictions.create(version=platform.versions["sleeper"], input={"seconds": 60})
    wait_for_status(blocker, {"processing"})
    queued = client.predictions.create(version=platform.versions["chatty"], input={"n": 2})
    queued.cancel()
    assert queued.status == "canceled"
    blocker.cancel()
    wait_for_status(blocker, {"canceled"})
    queued.reload()
    assert (queued.status, queued.started_at, queued.output) == ("canceled", None, None)


def test_list_predictions_paginates_newest_first(platform):
    client = platform.client()
    ids = []
    for index in range(7):
        prediction = client.predictions.create(version=platform.versions["echo"], input={"text": str(index)})
        ids.append(prediction.id)
    first = client.predictions.list()
    assert len(first.results) == 5
    assert [p.id for p in first.results[:5]] == ids[::-1][:5]
    assert first.next and first.next.startswith(platform.url)
    second = client.predictions.list(first.next)
    assert second.results[:2] and [p.id for p in second.results[:2]] == ids[::-1][5:7]


def test_models_get_and_versions_list(platform):
    client = platform.client()
    model = client.models.get("alice/echo")
    assert (model.owner, model.name, model.visibility) == ("alice", "echo", "private")
    assert model.latest_version.id == platform.versions["echo"]
    versions = model.versions.list()
    assert [v.id for v in versions] == [platform.versions["echo"]]
    schema = versions[0].openapi_schema["components"]["schemas"]
    assert schema["Input"]["properties"]["text"]["default"] == "hello"
    assert model.versions.get(platform.versions["echo"]).cog_version


def test_models_list_pages_through_what_each_tenant_may_see(platform):
    alice, bob = platform.client(), platform.client(platform.bob)
    alices_view = [model for page in paginate(alice.models.list) for model in page]  # more than one page
    names = [f"{model.owner}/{model.name}" for model in alices_view]
    assert len(names) == len(set(names)) and {f"alice/{name}" for name in platform.versions} <= set(names)
    echo = next(model for model in alices_view if model.name == "echo")
    assert (echo.visibility, echo.latest_version.id) == ("private", platform.versions["echo"])

    bobs_view = [model for page in paginate(bob.models.list) for model in page]
    assert {"alice/public-echo", "alice/files"} <= {f"{model.owner}/{model.name}" for model in bobs_view}
    assert all(model.visibility == "public" for model in bobs_view if model.owner != "bob")  # never alice/echo


def test_models_search_sends_query_and_finds_only_visible_models(platform):
    bob = platform.client(platform.bob)
    assert [f"{m.owner}/{m.name}" for m in bob.models.search("alice/public-echo")] == ["alice/public-echo"]
    found = {f"{m.owner}/{m.name}" for m in bob.models.search("echo")}
    assert "alice/public-echo" in found and "alice/echo" not in found
    assert {m.name for m in platform.client().models.search("alice/echo")} == {"echo", "public-echo"}


def test_a_bad_token_is_a_401_replicate_error(platform):
    with pytest.raises(ReplicateError) as raised:
        platform.client(token="r8_" + "x" * 37).run("alice/echo", input={})
    assert raised.value.status == 401
    assert raised.value.title == "Unauthenticated"


def test_another_tenant_gets_404_on_everything_of_alice(platform):
    alice, bob = platform.client(), platform.client(platform.bob)
    prediction = alice.predictions.create(version=platform.versions["echo"], input={"text": "mine"})
    prediction.wait()
    for call in (
        lambda: bob.predictions.get(prediction.id),
        lambda: bob.predictions.cancel(prediction.id),
        lambda: bob.models.get("alice/echo"),
        lambda: bob.models.get("alice/echo").versions.list(),
        lambda: bob.run("alice/echo", input={}),
    ):
        with pytest.raises(ReplicateError) as raised:
            call()
        assert raised.value.status == 404
    with pytest.raises(ReplicateError) as raised:
        bob.predictions.create(version=platform.versions["echo"], input={})
    assert raised.value.status == 422
    assert bob.predictions.list().results == []
    assert alice.predictions.get(prediction.id).status == "succeeded"


def test_a_crashing_runner_fails_only_its_prediction_and_is_replaced(platform):
    client = platform.client()
    with pytest.raises(ModelError) as raised:
        client.run("alice/crasher", input={"crash": True})
    assert "exited unexpectedly" in raised.value.prediction.error
    assert platform.worker.poll() is None  # the worker itself lives on
    assert client.run("alice/crasher", input={"crash": False}) == "alive"


def test_cancel_after_cancels_a_running_prediction_at_its_deadline(platform):
    response = httpx.post(
        f"{platform.url}/v1/predictions",
        json={"version": platform.versions["sleeper"], "input": {"seconds": 60}},
        headers={"Authorization": f"Bearer {platform.alice.plaintext}", "Cancel-After": "5s"},
    )
    assert response.status_code == 201
    prediction = platform.client().predictions.get(response.json()["id"])
    started = time.monotonic()
    wait_for_status(prediction, {"canceled", "failed", "succeeded"}, timeout=20)
    assert prediction.status == "canceled"
    assert time.monotonic() - started < 12
    assert "sleeping" in prediction.logs


def test_the_spending_limit_surfaces_as_a_402_replicate_error(platform, django_db_blocker):
    from accounts.models import Account

    bob = platform.client(platform.bob)
    assert bob.run("alice/public-echo", input={"text": "paid"}) == "paid"
    with django_db_blocker.unblock():
        Account.objects.filter(username="bob").update(spending_limit=Decimal("0"))
    time.sleep(5.5)  # the web process caches bob's token (and account) for 5 s
    try:
        with pytest.raises(ReplicateError) as raised:
            bob.run("alice/public-echo", input={"text": "over"})
        assert raised.value.status == 402
        assert raised.value.title == "You have reached your spending limit"
    finally:
        with django_db_blocker.unblock():
            Account.objects.filter(username="bob").update(spending_limit=None)


def test_logs_saved_while_running_are_not_repeated_in_the_final_logs(platform):
    # Progress is saved every 0.5 s while a prediction runs; the final logs must hold each line once.
    prediction = platform.client().predictions.create(version=platform.versions["sleeper"], input={"seconds": 1.2})
    prediction.wait()
    assert (prediction.status, prediction.logs) == ("succeeded", "sleeping\n")


def test_nul_characters_in_logs_and_output_do_not_lose_the_prediction(platform):
    # PostgreSQL cannot store NUL: they arrive as U+FFFD, and the prediction still succeeds.
    prediction = platform.client().predictions.create(version=platform.versions["nul"], input={})
    prediction.wait()
    assert (prediction.status, prediction.output) == ("succeeded", ["a\ufffdb", "c"])
    assert prediction.logs == "before\ufffdafter\n"


def test_past_its_deadline_before_it_starts_the_client_sees_canceled_and_plain_http_aborted(platform):
    """inference/api/deadlines.py: the Python client 1.0.7 refuses `aborted` (replicate-api.md
    §12.2 item 3), so it is told `canceled`; other callers see `aborted`, and the deadline."""
    token = platform.alice.plaintext

    def with_cancel_after(duration: str) -> replicate.Client:  # the client sends default headers on every request
        return replicate.Client(api_token=token, base_url=platform.url, headers={"Cancel-After": duration})

    # The solo worker is busy with this one until its own deadline, 8 s after it was made.
    blocker = with_cancel_after("8s").predictions.create(version=platform.versions["sleeper"], input={"seconds": 60})
    wait_until_running(blocker)
    late = with_cancel_after("5s").predictions.create(version=platform.versions["echo"], input={"text": "too late"})
    # run() holds the create open (Prefer: wait) until it ends: a status the client knows, no output.
    assert with_cancel_after("5s").run("alice/echo", input={"text": "too late as well"}) is None
    late.wait()
    assert (late.status, late.output, late.error, late.started_at) == ("canceled", None, None, None)
    assert "canceled" in {prediction.status for prediction in platform.client().predictions.list().results}

    over_http = httpx.get(f"{platform.url}/v1/predictions/{late.id}", headers={"Authorization": f"Bearer {token}"})
    body = over_http.json()
    assert (body["status"], body["started_at"]) == ("aborted", None)
    assert "predict_time" not in body["metrics"] and "cost" not in body["metrics"]  # never ran: not billed
    deadline = datetime.fromisoformat(body["deadline"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert abs((deadline - created).total_seconds() - 5) < 1

    blocker.wait()  # the one running at its deadline is canceled and billed for what it ran
    assert blocker.status == "canceled" and 7 < blocker.metrics["predict_time"] < 10
    assert Decimal(blocker.metrics["cost"]) > 0


def test_a_catalogued_models_default_example_and_cover_through_the_client(platform, django_db_blocker):
    """`manage.py catalogue` (what `make run` runs for each zoo model): the client takes the
    Model JSON, its `default_example` a whole Prediction (replicate-api.md §5.3), once it has run."""
    from io import StringIO

    from django.core.management import call_command

    from tests.conftest import ZOO

    with django_db_blocker.unblock():
        call_command("push", str(ZOO / "echo"), "alice/catalogued-echo", stdout=StringIO(), stderr=StringIO())
        call_command("catalogue", str(ZOO / "echo"), "alice/catalogued-echo", stdout=StringIO(), stderr=StringIO())
    client = platform.client()
    deadline = time.monotonic() + 30
    while (model := client.models.get("alice/catalogued-echo")).default_example is None:
        assert time.monotonic() < deadline, "the worker did not run the example"
        time.sleep(0.1)
    assert model.description.startswith("Returns the text it is given")
    example = model.default_example
    assert (example.status, example.input, example.output) == (
        "succeeded",
        {"text": "Hello from Hearth!"},
        "Hello from Hearth!",
    )
    assert example.model == "alice/catalogued-echo" and example.version == model.latest_version.id
    cover = httpx.get(model.cover_image_url)  # a private model's: the link is the capability
    assert (cover.status_code, cover.headers["content-type"]) == (200, "image/svg+xml")
    assert cover.content == (ZOO / "echo" / "cover.svg").read_bytes()
    listed = [m for page in paginate(client.models.list) for m in page if m.name == "catalogued-echo"]
    assert listed[0].default_example.id == example.id
