"""/metrics for operators, scraped through the view and parsed as Prometheus does; the docs'
table and the Grafana dashboard checked against what it serves (so neither can drift)."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hosting.redis_clients import sync_client
from inference.deployments import instances
from inference.models import Prediction
from inference.observability import counters, resources
from tests.inference.observability.fake_nvml import H200

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "metrics.md"
DASHBOARD = ROOT / "deploy" / "grafana" / "hearth.json"


@pytest.fixture(autouse=True)
def _nothing_of_other_tests():
    counters.flush()
    client = sync_client()
    client.delete(counters.KEY)
    for pattern in ("hearth:worker:*", "hearth:resources:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    yield
    client.delete(counters.KEY)


def scrape(api) -> dict:
    counters.flush()  # what the sender thread sends within a second
    response = api.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def exposed(family) -> str:
    """The name a family goes by in PromQL and in the docs (a counter's samples end in _total)."""
    return f"{family.name}_total" if family.type == "counter" else family.name


def samples(family, suffix: str = "") -> dict[tuple, float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for sample in family.samples
        if sample.name == family.name + suffix
    }


def test_the_operators_figures_are_served_with_names_not_ids(api, echo_version, nvml):
    prediction = Prediction.objects.create(
        account=echo_version.model.owner,
        version=echo_version,
        model=echo_version.model,
        hardware=echo_version.model.hardware,
        status=Prediction.Status.SUCCEEDED,
        metrics={"queue_time": 0.1, "predict_time": 0.3, "total_time": 0.45, "cost": "0.000030"},
    )
    counters.prediction_ended(prediction)
    counters.webhook_delivered(event="completed", outcome="unreachable")
    instances.report(worker="gpu-host:7", hardware=["cpu"], runners={echo_version.sha256: "warm"})
    nvml([H200])
    resources.report("gpu-host:7")  # this test process has no runners: only its GPU
    sync_client().delete("cpu")
    sync_client().rpush("cpu", "message")  # a Celery message no worker took yet
    try:
        families = scrape(api)
    finally:
        sync_client().delete("cpu")

    assert samples(families["hearth_predictions"], "_total") == {
        (("hardware", "cpu"), ("model", "alice/echo"), ("status", "succeeded")): 1
    }
    predict = families["hearth_prediction_predict_seconds"]
    assert samples(predict, "_count") == {(("hardware", "cpu"),): 1}
    assert samples(predict, "_bucket")[(("hardware", "cpu"), ("le", "0.25"))] == 0
    assert samples(predict, "_bucket")[(("hardware", "cpu"), ("le", "0.5"))] == 1
    assert samples(families["hearth_prediction_overhead_seconds"], "_sum")[(("hardware", "cpu"),)] == pytest.approx(
        0.05
    )
    assert samples(families["hearth_prediction_boot_seconds"], "_count") == {}  # it was warm
    assert samples(families["hearth_spend_dollars"], "_total") == {(("hardware", "cpu"),): pytest.approx(0.00003)}
    assert samples(families["hearth_webhook_deliveries"], "_total") == {
        (("event", "completed"), ("outcome", "unreachable")): 1
    }
    assert samples(families["hearth_broker_queue_messages"])[(("queue", "cpu"),)] == 1
    assert samples(families["hearth_runners"]) == {
        (("model", "alice/echo"), ("state", "warm"), ("version", echo_version.sha256), ("worker", "gpu-host:7")): 1
    }
    gpu = (("device", "NVIDIA H200"), ("gpu", "0"), ("worker", "gpu-host:7"))
    assert samples(families["hearth_gpu_memory_used_bytes"]) == {gpu: H200["used"]}
    assert samples(families["hearth_gpu_memory_total_bytes"]) == {gpu: H200["total"]}
    assert samples(families["hearth_gpu_utilization_ratio"]) == {gpu: 0.75}


def test_the_names_are_there_before_anything_happened(api, db):
    families = scrape(api)
    assert {"hearth_predictions", "hearth_prediction_queue_seconds", "hearth_gpu_utilization_ratio"} <= set(families)


# --- docs/metrics.md ------------------------------------------------------------------------------

_ROW = re.compile(r"^\| `(hearth_\w+)` \| (\w+) \| ([^|]*) \|", re.MULTILINE)


def test_the_docs_list_every_metric_with_its_type_and_labels(api, echo_version):
    counters.prediction_ended(_ran(echo_version))  # a sample of every counted family, so that its labels show
    counters.webhook_delivered(event="start", outcome="delivered")
    families = scrape(api)
    documented = {
        name: (kind, set(re.findall(r"`(\w+)`", labels))) for name, kind, labels in _ROW.findall(DOCS.read_text())
    }
    served = {}
    for family in families.values():
        labels = {label for sample in family.samples for label in sample.labels if label != "le"}
        served[exposed(family)] = (family.type, labels)
    assert set(documented) == {name for name in served if name.startswith("hearth_")}
    for name, (kind, labels) in served.items():
        documented_kind, documented_labels = documented[name]
        assert documented_kind == kind, name
        assert labels <= documented_labels, name  # a family without samples shows no labels


def _ran(version) -> Prediction:
    return Prediction(
        id="x",
        model=version.model,
        hardware=version.model.hardware,
        status=Prediction.Status.SUCCEEDED,
        metrics={"boot_time": 1.0, "setup_time": 0.5, "predict_time": 1.0, "total_time": 2.5, "cost": "0.0001"},
    )


def test_the_readme_links_the_metrics_page():
    assert "docs/metrics.md" in (ROOT / "README.md").read_text()


# --- deploy/grafana/hearth.json -------------------------------------------------------------------

_FUNCTIONS = {
    "sum", "avg", "max", "min", "count", "topk", "bottomk", "rate", "irate", "increase", "histogram_quantile",
    "clamp_min", "clamp_max", "by", "without", "on", "ignoring", "group_left", "group_right", "label_values",
}  # fmt: skip
_TOKEN = re.compile(
    r"""\s*(?:(?P<number>\d+(?:\.\d+)?(?:e-?\d+)?)|(?P<duration>\[\d+[smhdw]\])|(?P<name>[a-zA-Z_:][\w:]*)"""
    r"""|(?P<matchers>\{[^{}]*\})|(?P<op>[-+*/^%]|==|!=|>=|<=|[<>]|and|or|unless)|(?P<open>\()|(?P<close>\))"""
    r"""|(?P<comma>,))"""
)
_MATCHER = re.compile(r'^\s*[a-zA-Z_]\w*\s*(=~|!~|!=|=)\s*"[^"]*"\s*$')


def promql_problems(expr: str) -> list[str]:
    """What is wrong with a PromQL expression, roughly: unknown tokens, unknown functions,
    unbalanced parentheses, malformed label matchers, a range on something that is not a
    selector. No parser of PromQL is on PyPI for Python; this catches the slips people make."""
    expr = expr.replace("$__rate_interval", "5m").replace("$hardware", ".*")
    problems, depth, position, previous = [], 0, 0, None
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None or match.end() == position:
            return [*problems, f"cannot read {expr[position:]!r}"]
        position, kind, text = match.end(), match.lastgroup, match.group(match.lastgroup or 0)
        if kind == "name" and expr[position:].lstrip().startswith("(") and text not in _FUNCTIONS:
            problems.append(f"unknown function {text}")
        if kind == "matchers":
            inner = text[1:-1].strip()
            problems += [f"bad matcher {part!r}" for part in inner.split(",") if inner and not _MATCHER.match(part)]
        if kind == "duration" and previous not in ("name", "matchers"):
            problems.append(f"a range {text} after {previous}")
        depth += {"open": 1, "close": -1}.get(kind or "", 0)
        if depth < 0:
            problems.append("a ) without its (")
        previous = kind
    return problems + (["unclosed ("] if depth else [])


def test_the_promql_check_catches_slips():
    assert promql_problems('sum by (le) (rate(x_bucket{hardware=~"$hardware"}[$__rate_interval]))') == []
    assert promql_problems("sum(rate(x[5m])") == ["unclosed ("]
    assert promql_problems("rat(x[5m])") == ["unknown function rat"]
    assert promql_problems('x{hardware="cpu",state}') == ["bad matcher 'state'"]
    assert promql_problems("rate(sum(x)[5m])") == ["a range [5m] after close"]


def test_the_dashboard_uses_only_metrics_the_endpoint_serves_in_well_formed_queries(api, db):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    served = {exposed(family) for family in scrape(api).values()}
    exprs = []
    for panel in dashboard["panels"]:
        assert {"type", "title", "gridPos", "id"} <= set(panel), panel.get("title")
        assert panel["type"] == "row" or panel["targets"], panel["title"]
        exprs += [target["expr"] for target in panel.get("targets", [])]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    used = set()
    for expr in exprs:
        assert promql_problems(expr) == [], expr
        for name in re.findall(r"\bhearth_\w+", expr):
            used.add(name)
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in served or family in served, f"{name} is not served ({expr})"
    # Everything an operator was promised is on the dashboard, not only on the endpoint.
    assert {name for name in served if name.startswith("hearth_")} <= {
        re.sub(r"_(bucket|sum|count)$", "", name) for name in used
    }
