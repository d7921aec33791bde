"""The rules of cog's record_metric, as coglet 0.23.1 applied them when measured against its
server (python -m cog.server.http, one prediction per case): names, types, modes, nesting."""

import pytest

from inference.runtime.child_metrics import MetricRecorder, Scope, check_name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "metric name must not be empty"),
        ("a" * 129, "metric name must be 128 characters or fewer (got 129 characters)"),
        ("predict_time", "'predict_time' is reserved by the runtime"),
        ("cog.x", "the 'cog.' prefix is reserved for system metrics"),
        ("a.b.c.d.e", "metric name must have at most 4 dot-separated segments (got 5)"),
        ("a..b", "metric name must not contain empty segments (consecutive dots)"),
        ("1abc", "metric name segment '1abc' must start with a letter"),
        ("_a", "metric name segment '_a' must start with a letter"),
        ("éa", "metric name segment 'éa' must start with a letter"),
        ("a-b", "metric name segment 'a-b' contains invalid character '-'"),
        ("a__b", "metric name segment 'a__b' must not contain consecutive underscores"),
        ("a_", "metric name segment 'a_' must end with a letter or digit"),
    ],
)
def test_bad_names(name, message):
    with pytest.raises(ValueError) as caught:
        check_name(name)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ["Temp", "A1_b2.C3", "a" * 128, "x.y.z.w", "predict_time.x", "cog"])
def test_good_names(name):
    check_name(name)


def recorded(*calls) -> dict:
    metrics = MetricRecorder()
    scope = Scope(metrics)
    for call in calls:
        scope.record_metric(*call)
    return metrics.values()


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([("t", 1, "incr"), ("t", 2, "incr")], {"t": 3}),
        ([("t", -1.2, "append"), ("t", -0.5, "append")], {"t": [-1.2, -0.5]}),
        ([("t", "a"), ("t", "b", "append")], {"t": ["a", "b"]}),  # a value becomes a list
        ([("t", [1]), ("t", [2], "append")], {"t": [1, [2]]}),
        ([("t", [1]), ("t", [2])], {"t": [2]}),
        ([("t", 1, "incr"), ("t", 2, "append")], {"t": [1, 2]}),
        ([("t", {"a": 1}), ("t", {"b": 2}, "append")], {"t": [{"a": 1}, {"b": 2}]}),
        ([("t.u", 1), ("t.v", "x", "append")], {"t": {"u": 1, "v": ["x"]}}),
        ([("t", 1), ("t.u", "x"), ("t", 2)], {"t": 2}),
        ([("t.u", 1), ("t", 1)], {"t": 1}),
        ([("t", 2**70)], {"t": float(2**70)}),
        ([("t", float("nan"))], {}),  # JSON has no NaN: coglet's answer had no "t" either
    ],
)
def test_modes_and_nesting(calls, expected):
    assert recorded(*calls) == expected


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ([("t", 1), ("t", "x")], "Metric 't' has type int, cannot set to str without deleting first"),
        ([("t", 1.5), ("t", 2)], "Metric 't' has type float, cannot set to int without deleting first"),
        ([("t", True), ("t", 1)], "Metric 't' has type bool, cannot set to int without deleting first"),
        ([("t", [1, 2]), ("t", 3, "append")], "Metric 't' has type list, cannot set to int without deleting first"),
        ([("t", 1, "append"), ("t", 1.5, "append")], "Metric 't' has type int, cannot set to float"),
        ([("t.u", 1), ("t.u", "x")], "Metric 't.u' has type int, cannot set to str"),
        ([("t", "x", "incr")], "Increment mode requires int or float, got str"),
        ([("t", True, "incr")], "Increment mode requires int or float, got bool"),
        ([("t", 1, "bogus")], "Invalid metric mode: 'bogus'. Expected 'replace', 'incr', or 'append'."),
        ([("t", None)], "Unsupported metric value type: NoneType. Expected bool, int, float, str, list, or dict."),
        ([("t", object())], "Unsupported metric value type: object. Expected bool, int, float, str, list, or dict."),
        ([("t", {"a": object()})], "Cannot convert object to JSON metric value"),
        ([(5, 1)], "argument 'key': 'int' object cannot be cast as 'str'"),
    ],
)
def test_type_errors(calls, message):
    with pytest.raises(TypeError) as caught:
        recorded(*calls)
    assert message in str(caught.value)


def test_delete_then_another_type():
    metrics = MetricRecorder()
    metrics["t"] = 1
    metrics.delete("t")
    metrics["t"] = "x"
    metrics["gone"] = 1
    del metrics["gone"]
    del metrics["never_there"]
    assert metrics.values() == {"t": "x"}
