"""Reads of deployments, scoped to their owner: another account's deployment is a 404."""

from django.db.models import F, QuerySet

from accounts.models import Account
from hosting.problems import NotFound
from inference.models import Deployment, DeploymentRelease

_RELEASE_JOINS = (
    "owner",
    "current_release__model__owner",
    "current_release__version",
    "current_release__hardware",
    "current_release__created_by",
)


def deployment_list(*, account: Account) -> QuerySet[Deployment]:
    """Newest first with a unique tiebreaker (cursor pages)."""
    return Deployment.objects.filter(owner=account).select_related(*_RELEASE_JOINS).order_by("-created_at", "-pk")


def deployment_get(*, account: Account, owner: str, name: str, for_update: bool = False) -> Deployment:
    deployments = Deployment.objects.filter(owner=account, owner__username=owner, name=name)
    if for_update:  # releases are numbered one at a time
        deployments = deployments.select_for_update(of=("self",))
    deployment = deployments.select_related(*_RELEASE_JOINS).first()
    if deployment is None:
        raise NotFound("The requested deployment does not exist (or you don't have permission to see it).")
    return deployment


def release_history(*, deployment: Deployment) -> QuerySet[DeploymentRelease]:
    """Its releases, newest first."""
    return deployment.releases.select_related("model__owner", "version", "hardware", "created_by")


def releases_kept_warm(*, hardware: list[str]) -> QuerySet[DeploymentRelease]:
    """The current releases on these SKUs that keep instances booted (`min_instances` > 0)."""
    return DeploymentRelease.objects.filter(
        deployment__current_release=F("pk"), hardware__sku__in=hardware, min_instances__gt=0
    ).select_related("deployment", "version", "model__owner", "model__hardware", "hardware")
