"""How many instances each hardware queue and each deployment wants now: the figure real
autoscalers read (KEDA's metrics-api scaler on /metrics/scaling, Prometheus on /metrics).

One instance runs one prediction at a time (a worker's solo pool), so:
- a deployment wants one instance per prediction in flight through it (queued or running),
  never fewer than its `min_instances` nor more than its `max_instances`;
- a hardware queue wants what its deployments want plus one per other prediction in flight on
  it. That is the number of workers of that SKU to run.

The counts come from PostgreSQL, not from the Celery queue in Redis: a message a worker has
prefetched, a prediction running, and one whose message was lost and is about to be requeued all
count, and a deployment's minimum is known. (KEDA's Redis-list scaler sees only messages not yet
taken, so it would scale a busy worker away mid-prediction.) Live instances come from the
workers' reports (`instances`).
"""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from billing.models import Hardware
from inference.deployments import instances
from inference.models import Deployment, Prediction


@dataclass
class DeploymentDemand:
    name: str
    hardware: str
    version: str
    min_instances: int
    max_instances: int
    queued: int = 0
    running: int = 0
    instances: dict[str, int] = field(default_factory=dict)

    @property
    def desired_instances(self) -> int:
        return max(self.min_instances, min(self.max_instances, self.queued + self.running))


@dataclass
class HardwareDemand:
    queued: int = 0
    running: int = 0
    workers: int = 0
    desired_instances: int = 0


@dataclass
class Demand:
    hardware: dict[str, HardwareDemand]
    deployments: dict[str, DeploymentDemand]

    def as_json(self) -> dict[str, Any]:
        return {
            "hardware": {sku: vars(figures) for sku, figures in self.hardware.items()},
            "deployments": {
                name: {**vars(figures), "desired_instances": figures.desired_instances}
                for name, figures in self.deployments.items()
            },
        }


def demand() -> Demand:
    """The figures now: three queries (SKUs, deployments, predictions in flight) and one Redis scan."""
    hardware = {sku: HardwareDemand() for sku in Hardware.objects.values_list("sku", flat=True)}
    deployments: dict[int, DeploymentDemand] = {}
    for deployment in Deployment.objects.select_related(
        "owner", "current_release__hardware", "current_release__version"
    ).exclude(current_release=None):
        release = deployment.current_release
        assert release is not None
        deployments[deployment.pk] = DeploymentDemand(
            name=deployment.full_name,
            hardware=release.hardware.sku,
            version=release.version.sha256,
            min_instances=release.min_instances,
            max_instances=release.max_instances,
        )
    in_flight = (
        Prediction.objects.filter(status__in=[Prediction.Status.STARTING, Prediction.Status.PROCESSING])
        .values("hardware__sku", "deployment_id", "status")
        .annotate(count=Count("id"))
    )
    others = dict.fromkeys(hardware, 0)  # predictions in flight not through a deployment, per SKU
    for row in in_flight:
        sku, queued = row["hardware__sku"], row["status"] == Prediction.Status.STARTING
        figures = hardware.setdefault(sku, HardwareDemand())
        if queued:
            figures.queued += row["count"]
        else:
            figures.running += row["count"]
        target = deployments.get(row["deployment_id"])
        if target is None:
            others[sku] = others.get(sku, 0) + row["count"]
        elif queued:
            target.queued += row["count"]
        else:
            target.running += row["count"]
    reports = instances.workers()
    for report in reports:
        for sku in report["hardware"]:
            hardware.setdefault(sku, HardwareDemand()).workers += 1
    for sku, figures in hardware.items():
        figures.desired_instances = others.get(sku, 0) + sum(
            target.desired_instances for target in deployments.values() if target.hardware == sku
        )
    for target in deployments.values():
        target.instances = instances.instance_counts(version=target.version, hardware=target.hardware, reports=reports)
    return Demand(hardware=hardware, deployments={target.name: target for target in deployments.values()})
