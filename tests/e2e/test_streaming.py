"""Token streaming over SSE with the unmodified client (replicate-api.md §8)."""

import json
import time

import httpx
import pytest
from replicate.stream import ServerSentEvent

OUTPUT, DONE = ServerSentEvent.EventType.OUTPUT, ServerSentEvent.EventType.DONE

pytestmark = pytest.mark.e2e


def test_replicate_stream_prints_tokens_as_they_are_generated(platform):
    arrivals, tokens = [], []
    started = time.monotonic()
    for event in platform.client().stream("alice/tokens", input={"text": "one two three four", "delay": 0.3}):
        if event.event == OUTPUT:
            arrivals.append(time.monotonic() - started)
            tokens.append(event.data)
    assert "".join(tokens) == "one two three four"
    # Tokens come as they are made (0.3 s apart), not all together at the end.
    assert arrivals[-1] - arrivals[0] > 0.6
    assert arrivals[0] < arrivals[-1] - 0.6


def test_prediction_stream_after_create(platform):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["tokens"], input={"text": "a b c"}, stream=True)
    assert prediction.urls["stream"].startswith(platform.url)
    assert "".join(str(chunk) for chunk in prediction.stream()) == "a b c"


def test_a_late_subscriber_first_gets_everything_already_produced(platform):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["tokens"], input={"text": "x y z"})
    prediction.wait()
    events = list(client.stream(f"alice/tokens:{platform.versions['tokens']}", input={"text": "x y z"}))
    assert [e.event for e in events] == [OUTPUT, OUTPUT, OUTPUT, DONE]
    response = httpx.get(prediction.urls["stream"], headers={"Authorization": f"Bearer {platform.alice.plaintext}"})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.count("event: output") == 3 and "event: done" in response.text


def parse_sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        event = {"data": "\n".join(line[6:] for line in lines if line.startswith("data: "))}
        for line in lines:
            if line.startswith("event: ") or line.startswith("id: "):
                key, _, value = line.partition(": ")
                event[key] = value
        events.append(event)
    return events


def test_every_event_has_an_id_and_last_event_id_resumes(platform):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["tokens"], input={"text": "p q r s"})
    prediction.wait()
    auth = {"Authorization": f"Bearer {platform.alice.plaintext}"}
    first = parse_sse(httpx.get(prediction.urls["stream"], headers=auth).text)
    assert all("id" in event for event in first)
    assert [e["data"] for e in first if e["event"] == "output"] == ["p", " q", " r", " s"]
    second_output_id = [e for e in first if e["event"] == "output"][1]["id"]
    resumed = parse_sse(httpx.get(prediction.urls["stream"], headers={**auth, "Last-Event-ID": second_output_id}).text)
    assert [e["data"] for e in resumed] == [" r", " s", "{}"]


def test_idle_streams_get_keepalive_comments(platform):
    client = platform.client()
    prediction = client.predictions.create(
        version=platform.versions["tokens"], input={"text": "slow token", "delay": 2.5}
    )
    response = httpx.get(
        prediction.urls["stream"], headers={"Authorization": f"Bearer {platform.alice.plaintext}"}, timeout=30
    )
    assert ": keepalive" in response.text  # the e2e servers send one after 1 s idle
    assert [e["data"] for e in parse_sse(response.text) if e["event"] == "output"] == ["slow", " token"]


def test_cancel_mid_stream_ends_with_done_canceled(platform):
    client = platform.client()
    prediction = client.predictions.create(
        version=platform.versions["tokens"], input={"text": "a b c d e f g h", "delay": 0.5}
    )
    seen = []
    for event in prediction.stream():
        seen.append(event)
        if len(seen) == 1:
            prediction.cancel()
    assert seen[0].event == OUTPUT
    assert seen[-1].event == DONE and json.loads(seen[-1].data) == {"reason": "canceled"}
    assert len([e for e in seen if e.event == OUTPUT]) < 8


def test_a_model_error_mid_stream_sends_error_then_done(platform):
    client = platform.client()
    prediction = client.predictions.create(version=platform.versions["streamfail"], input={})
    with pytest.raises(RuntimeError, match="broke mid-stream"):
        list(prediction.stream())
    events = parse_sse(
        httpx.get(prediction.urls["stream"], headers={"Authorization": f"Bearer {platform.alice.plaintext}"}).text
    )
    logs = [e for e in events if e["event"] == "logs"]
    assert "Traceback" in "".join(e["data"] for e in logs)
    events = [e for e in events if e not in logs]
    assert [e["event"] for e in events] == ["output", "output", "error", "done"]
    assert json.loads(events[2]["data"]) == {"detail": "broke mid-stream"}
    assert json.loads(events[3]["data"]) == {"reason": "error"}


def test_the_stream_url_works_without_a_token_but_not_for_other_tenants(platform):
    prediction = platform.client().predictions.create(version=platform.versions["tokens"], input={"text": "mine"})
    prediction.wait()
    url = prediction.urls["stream"]
    anonymous = httpx.get(url)  # what the JS client does: no Authorization on stream GETs
    assert anonymous.headers["content-type"].startswith("text/event-stream") and "mine" in anonymous.text
    bob = httpx.get(url, headers={"Authorization": f"Bearer {platform.bob.plaintext}"})
    assert bob.status_code == 404 and bob.headers["content-type"] == "application/problem+json"
    assert httpx.get(url.replace("signature=", "signature=x")).status_code == 404
    assert httpx.get(url.split("?")[0]).status_code == 401


def test_non_streaming_models_have_no_stream_url(platform):
    prediction = platform.client().predictions.create(version=platform.versions["echo"], input={})
    assert "stream" not in prediction.urls


def test_get_shows_the_output_so_far_while_it_runs(platform):
    client = platform.client()
    prediction = client.predictions.create(
        version=platform.versions["tokens"], input={"text": "t1 t2 t3 t4 t5 t6", "delay": 0.4}
    )
    deadline = time.monotonic() + 20
    while not (prediction.status == "processing" and prediction.output):
        assert time.monotonic() < deadline and prediction.status != "succeeded", "no partial output seen"
        time.sleep(0.1)
        prediction.reload()
    assert 0 < len(prediction.output) < 6
    prediction.wait()
    assert "".join(prediction.output) == "t1 t2 t3 t4 t5 t6"


def test_the_text_generation_model_streams_tokens_through_the_client(platform):
    arrivals, chunks = [], []
    started = time.monotonic()
    prediction = platform.client().predictions.create(
        model="alice/text-generation", input={"prompt": "hello there", "max_tokens": 100, "temperature": 0}
    )
    for event in prediction.stream():
        if event.event == OUTPUT:
            arrivals.append(time.monotonic() - started)
            chunks.append(event.data)
    prediction.wait()
    assert prediction.status == "succeeded"
    # The predictor hands text over at most every 16 ms; 100 tokens of the tiny model take
    # 50 ms or more on any CPU, so the text comes in several chunks, not one block at the end.
    assert "".join(chunks) == "".join(prediction.output) and len(chunks) >= 3
    assert arrivals[0] < arrivals[-1]
    assert "Generated 100 tokens" in prediction.logs
