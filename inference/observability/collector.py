"""The Prometheus collector behind `/metrics` for operators (docs/metrics.md lists every family).

Everything is read at scrape time from the state every process shares, so any web process
answers for the whole platform and nothing is kept in the process: the counters and histograms
in Redis (`counters`), the broker's queues, the workers' runner reports
(`deployments.instances`) and resource reports (`resources`), and PostgreSQL for the names of
models and hardware. Scrape one web process (the Service), not each: they all say the same.

Every family is yielded even without samples (a platform with no GPU still says
`# TYPE hearth_gpu_utilization_ratio gauge`), so dashboards and docs can rely on the names.
"""

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from billing.models import Hardware
from hosting.redis_clients import sync_client
from inference.deployments import instances
from inference.models import Model, Version
from inference.observability import counters, resources

_DEFAULT_QUEUE = "default"  # webhook deliveries and beat's sweeps (hosting/settings.py)


def _model_names(ids: set[int]) -> dict[int, str]:
    named = {model.pk: model.full_name for model in Model.objects.select_related("owner").filter(pk__in=ids)}
    return {pk: named.get(pk, f"deleted model {pk}") for pk in ids}


def _version_models(versions: set[str]) -> dict[str, str]:
    """The model each version was first pushed to (the same package pushed to two models is one
    version id, and one runner)."""
    names: dict[str, str] = {}
    for version in Version.objects.select_related("model__owner").filter(sha256__in=versions).order_by("pk"):
        names.setdefault(version.sha256, version.model.full_name)
    return names


class OperatorCollector:
    def collect(self) -> Iterator[Metric]:
        skus = dict(Hardware.objects.values_list("pk", "sku"))
        yield from self._counted(counters.read(), skus)
        yield self._broker_queues(sorted({*skus.values(), _DEFAULT_QUEUE}))
        yield from self._runners(instances.workers(), resources.reports())

    def _counted(self, figures: counters.Figures, skus: dict[int, str]) -> Iterator[Metric]:
        def sku(pk: int) -> str:
            return skus.get(pk, f"deleted hardware {pk}")

        predictions = CounterMetricFamily(
            "hearth_predictions", "Predictions that reached a final state", labels=["model", "hardware", "status"]
        )
        models = _model_names({model_id for model_id, _, _ in figures.predictions})
        for (model_id, hardware_id, status), count in sorted(figures.predictions.items()):
            predictions.add_metric([models[model_id], sku(hardware_id), status], count)
        yield predictions
        for name, histogram in counters.HISTOGRAMS.items():
            family = HistogramMetricFamily(f"hearth_prediction_{name}_seconds", histogram.help, labels=["hardware"])
            for hardware_id, series in sorted(figures.histograms.get(name, {}).items()):
                family.add_metric([sku(hardware_id)], series.buckets, series.sum)
            yield family
        spend = CounterMetricFamily(
            "hearth_spend_dollars", "Dollars charged for predictions, per hardware SKU", labels=["hardware"]
        )
        for hardware_id, dollars in sorted(figures.spend.items()):
            spend.add_metric([sku(hardware_id)], dollars)
        yield spend
        webhooks = CounterMetricFamily(
            "hearth_webhook_deliveries",
            "Webhook delivery attempts by event and outcome (delivered, rejected, unreachable, refused)",
            labels=["event", "outcome"],
        )
        for (event, outcome), count in sorted(figures.webhooks.items()):
            webhooks.add_metric([event, outcome], count)
        yield webhooks

    def _broker_queues(self, queues: list[str]) -> Metric:
        """Messages waiting in each Celery queue (a Redis list per queue): what no worker has
        taken yet. `hearth_queue_predictions` counts predictions in flight instead."""
        family = GaugeMetricFamily(
            "hearth_broker_queue_messages", "Messages waiting in each Celery queue", labels=["queue"]
        )
        pipe = sync_client().pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        for queue, length in zip(queues, pipe.execute(), strict=True):
            family.add_metric([queue], length)
        return family

    def _runners(
        self, runner_reports: list[dict[str, Any]], resource_reports: list[dict[str, Any]]
    ) -> Iterator[Metric]:
        versions = {version for report in runner_reports for version in report["runners"]}
        versions |= {version for report in resource_reports for version in report["runners"]}
        models = _version_models(versions) if versions else {}
        runners = GaugeMetricFamily(
            "hearth_runners",
            "Runners (loaded model versions) per worker, by state: booting, busy, warm (idle)",
            labels=["worker", "model", "version", "state"],
        )
        for report in sorted(runner_reports, key=lambda report: report["worker"]):
            for version, state in sorted(report["runners"].items()):
                runners.add_metric([report["worker"], models.get(version, ""), version, state], 1)
        yield runners
        memory = GaugeMetricFamily(
            "hearth_runner_memory_bytes",
            "Resident memory of each runner process and its children",
            labels=["worker", "model", "version"],
        )
        gpu_used = GaugeMetricFamily(
            "hearth_gpu_memory_used_bytes", "GPU memory in use (NVML)", labels=["worker", "gpu", "device"]
        )
        gpu_total = GaugeMetricFamily(
            "hearth_gpu_memory_total_bytes", "GPU memory in all (NVML)", labels=["worker", "gpu", "device"]
        )
        gpu_busy = GaugeMetricFamily(
            "hearth_gpu_utilization_ratio",
            "Share of the last sample period a kernel ran on the GPU, 0 to 1 (NVML)",
            labels=["worker", "gpu", "device"],
        )
        for report in sorted(resource_reports, key=lambda report: report["worker"]):
            worker = report["worker"]
            for version, size in sorted(report["runners"].items()):
                memory.add_metric([worker, models.get(version, ""), version], size)
            for gpu in report["gpus"]:
                labels = [worker, str(gpu["index"]), gpu["name"]]
                gpu_used.add_metric(labels, gpu["memory_used"])
                gpu_total.add_metric(labels, gpu["memory_total"])
                gpu_busy.add_metric(labels, gpu["utilization"])
        yield from (memory, gpu_used, gpu_total, gpu_busy)
