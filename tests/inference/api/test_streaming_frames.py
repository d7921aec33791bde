import json

import pytest

from inference.api.streaming import frames_for_entry, replay_from_database, sse_frame


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("hello", "event: output\nid: 1-0\ndata: hello\n\n"),
        ("two\nlines", "event: output\nid: 1-0\ndata: two\ndata: lines\n\n"),
        ("\n", "event: output\nid: 1-0\ndata: \ndata: \n\n"),
        ("", "event: output\nid: 1-0\ndata: \n\n"),
    ],
)
def test_text_is_split_into_data_lines(text, wire):
    assert sse_frame("output", "1-0", text) == wire


def test_non_text_outputs_are_sent_as_json():
    frame, finished = frames_for_entry("2-0", {"type": "output", "data": json.dumps({"a": 1})})
    assert frame == 'event: output\nid: 2-0\ndata: {"a": 1}\n\n' and not finished


@pytest.mark.parametrize(
    ("status", "events"),
    [("succeeded", ["done"]), ("canceled", ["done"]), ("failed", ["error", "done"])],
)
def test_done_ends_the_stream_with_the_reason(status, events):
    frame, finished = frames_for_entry("3-0", {"type": "done", "data": json.dumps({"status": status, "error": "x"})})
    assert finished
    assert [line[7:] for line in frame.splitlines() if line.startswith("event: ")] == events


def test_start_entries_are_not_sent():
    assert frames_for_entry("1-0", {"type": "start", "data": "{}"}) == ("", False)


def test_an_expired_stream_is_replayed_from_the_database(alice, echo_version):
    from inference.models import Prediction

    prediction = Prediction(id="x" * 26, status="succeeded", output=["a", "b"], error=None)
    wire = replay_from_database(prediction)
    assert wire.count("event: output") == 2 and wire.endswith("event: done\nid: 0-3\ndata: {}\n\n")
