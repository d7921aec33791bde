"""The per-prediction event stream in Redis: trimmed while it is written, expired once done."""

import json
import threading
import uuid

import pytest
import redis

from hosting.redis_clients import sync_client
from inference import events


def test_a_stream_is_trimmed_while_written_and_expires_once_done(monkeypatch):
    monkeypatch.setattr(events, "STREAM_MAX_ENTRIES", 10)
    key = events.stream_key("trimmed-stream-test")
    client = sync_client()
    client.delete(key)
    try:
        for index in range(1000):
            events.publish("trimmed-stream-test", "logs", f"line {index}\n")
        assert client.ttl(key) == -1  # still running: no expiry yet
        events.publish_done("trimmed-stream-test", {"status": "succeeded"})

        # Trimmed a whole node of entries at a time: far fewer than written, the newest kept.
        entries = client.xrange(key)
        assert len(entries) < 200
        assert entries[-2][1]["data"] == "line 999\n"
        assert entries[-1][1] == {"type": "done", "data": json.dumps({"status": "succeeded"}, separators=(",", ":"))}
        assert 0 < client.ttl(key) <= events.STREAM_RETENTION_SECONDS
    finally:
        client.delete(key)


@pytest.fixture
def stream_id():
    prediction_id = f"events-test-{uuid.uuid4().hex}"
    yield prediction_id
    sync_client().delete(events.stream_key(prediction_id))


def test_a_writer_appends_a_burst_in_order_before_close_returns(stream_id, monkeypatch):
    round_trips = []
    execute = redis.client.Pipeline.execute

    def counted_execute(pipeline, *args, **kwargs):
        round_trips.append(1)
        return execute(pipeline, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
    writer = events.StreamWriter(stream_id)
    for index in range(500):
        writer.publish("output", f"token {index}")
    writer.close()
    events.publish_done(stream_id, {"status": "succeeded"})

    entries = sync_client().xrange(events.stream_key(stream_id))
    assert [json.loads(fields["data"]) for _id, fields in entries[:-1]] == [f"token {i}" for i in range(500)]
    assert entries[-1][1]["type"] == "done"
    assert len(round_trips) < 500 / 2  # the burst went out in batches, not one round trip a token


def test_a_writer_that_never_wrote_starts_no_thread(stream_id):
    writer = events.StreamWriter(stream_id)
    writer.close()
    assert not [thread for thread in threading.enumerate() if thread.name == f"events-{stream_id}"]


async def test_a_late_reader_gets_what_is_there_in_one_batch_ending_with_done(stream_id):
    for index in range(5):
        events.publish(stream_id, "output", index)
    events.publish_done(stream_id, {"status": "succeeded"})
    events.publish(stream_id, "logs", "written after done, never read\n")

    batches = [batch async for batch in events.follow_batches(stream_id, idle_seconds=1)]

    assert [[fields["type"] for _id, fields in batch] for batch in batches] == [["output"] * 5 + ["done"]]
