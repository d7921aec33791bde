"""/metrics (Prometheus text) and /metrics/scaling (JSON for KEDA's metrics-api scaler): queue
lengths, instances and the instances each hardware queue and deployment wants
(`deployments.scaling`), and on /metrics the operators' figures (`observability.collector`:
predictions, timings, runners, GPUs, webhooks, spend; docs/metrics.md lists them all). For
operators' scrapers, not for tenants: they answer a request with
`Authorization: Bearer <METRICS_TOKEN>`, or, with no METRICS_TOKEN set, one from this machine."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hosting.problems import ApiProblem, problem_response
from inference.deployments.scaling import Demand, demand
from inference.observability.collector import OperatorCollector

_LOOPBACK = {"127.0.0.1", "::1"}


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(sent.encode(), token.encode()):
            return None
        return problem_response(ApiProblem(401, "Unauthorized", "Send Authorization: Bearer <METRICS_TOKEN>."))
    if request.META.get("REMOTE_ADDR") in _LOOPBACK:
        return None
    return problem_response(ApiProblem(403, "Forbidden", "Set METRICS_TOKEN to read the metrics from another machine."))


class _DemandCollector:
    def __init__(self, figures: Demand) -> None:
        self._figures = figures

    def collect(self):
        queue = GaugeMetricFamily(
            "hearth_queue_predictions", "Predictions in flight per hardware queue", labels=["hardware", "state"]
        )
        workers = GaugeMetricFamily("hearth_workers", "Live workers serving each hardware SKU", labels=["hardware"])
        desired = GaugeMetricFamily(
            "hearth_desired_instances", "Instances (workers) each hardware queue wants now", labels=["hardware"]
        )
        for sku, figures in self._figures.hardware.items():
            queue.add_metric([sku, "queued"], figures.queued)
            queue.add_metric([sku, "running"], figures.running)
            workers.add_metric([sku], figures.workers)
            desired.add_metric([sku], figures.desired_instances)
        deployment_desired = GaugeMetricFamily(
            "hearth_deployment_desired_instances", "Instances each deployment wants now", labels=["deployment"]
        )
        deployment_instances = GaugeMetricFamily(
            "hearth_deployment_instances", "Instances of each deployment by state", labels=["deployment", "state"]
        )
        for name, target in self._figures.deployments.items():
            deployment_desired.add_metric([name], target.desired_instances)
            for state, count in target.instances.items():
                deployment_instances.add_metric([name, state], count)
        yield from (queue, workers, desired, deployment_desired, deployment_instances)


@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DemandCollector(demand()))
    registry.register(OperatorCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@require_GET
def scaling(request: HttpRequest) -> HttpResponse:
    """For KEDA: e.g. `valueLocation: hardware.gpu-t4.desired_instances`."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return JsonResponse(demand().as_json())
