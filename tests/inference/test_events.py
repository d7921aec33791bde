"""The per-prediction event stream in Redis: trimmed while it is written, expired once done."""

import json

from hosting.redis_clients import sync_client
from inference import events


def test_a_stream_is_trimmed_while_written_and_expires_once_done(monkeypatch):
    monkeypatch.setattr(events, "STREAM_MAX_ENTRIES", 10)
    key = events.stream_key("trimmed-stream-test")
    redis = sync_client()
    redis.delete(key)
    try:
        for index in range(1000):
            events.publish("trimmed-stream-test", "logs", f"line {index}\n")
        assert redis.ttl(key) == -1  # still running: no expiry yet
        events.publish_done("trimmed-stream-test", {"status": "succeeded"})

        # Trimmed a whole node of entries at a time: far fewer than written, the newest kept.
        entries = redis.xrange(key)
        assert len(entries) < 200
        assert entries[-2][1]["data"] == "line 999\n"
        assert entries[-1][1] == {"type": "done", "data": json.dumps({"status": "succeeded"}, separators=(",", ":"))}
        assert 0 < redis.ttl(key) <= events.STREAM_RETENTION_SECONDS
    finally:
        redis.delete(key)
