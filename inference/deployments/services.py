"""Writes on deployments. A deployment's configuration is never edited in place: creating it
makes release 1, and every update makes the next release (kept as history); predictions made
through it run what its current release says."""

from django.db import transaction

from accounts.models import Account
from billing.models import Hardware
from hosting.problems import NotFound
from inference import selectors
from inference.models import Deployment, DeploymentRelease, Model, Version


class DeploymentExists(Exception):
    pass


class InvalidDeployment(Exception):
    """A configuration that cannot be released; `field` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_instances(min_instances: int, max_instances: int) -> None:
    if min_instances > max_instances:
        raise InvalidDeployment(
            "min_instances", f"min_instances ({min_instances}) must not be more than max_instances ({max_instances})."
        )


def model_to_deploy(*, account: Account, model_ref: str) -> Model:
    """A model the account may run, by "owner/name": its own or a public one."""
    owner, _, name = model_ref.partition("/")
    try:
        return selectors.model_get(account=account, owner=owner, name=name)
    except NotFound as exc:
        raise InvalidDeployment(
            "model", f"There is no model {model_ref} (or you don't have permission to see it)."
        ) from exc


def version_of(model: Model, version_id: str) -> Version:
    """The model's version of that id (with `model` set), for a release."""
    version = model.versions.filter(sha256=version_id).first()
    if version is None:
        raise InvalidDeployment("version", f"{model.full_name} has no version {version_id}.")
    version.model = model
    return version


@transaction.atomic
def deployment_create(
    *, account: Account, name: str, version: Version, hardware: Hardware, min_instances: int, max_instances: int
) -> Deployment:
    check_instances(min_instances, max_instances)
    if Deployment.objects.filter(owner=account, name=name).exists():
        raise DeploymentExists(f"{account.username}/{name} exists.")
    deployment = Deployment.objects.create(owner=account, name=name)
    release = DeploymentRelease.objects.create(
        deployment=deployment,
        number=1,
        model=version.model,
        version=version,
        hardware=hardware,
        min_instances=min_instances,
        max_instances=max_instances,
        created_by=account,
    )
    deployment.current_release = release
    deployment.save(update_fields=["current_release"])
    return deployment


def deployment_release(
    *,
    deployment: Deployment,
    created_by: Account,
    version: Version | None = None,
    hardware: Hardware | None = None,
    min_instances: int | None = None,
    max_instances: int | None = None,
) -> Deployment:
    """A new release: the current one with the given fields changed. Call in a transaction that
    has locked the deployment row (`selectors.deployment_get(for_update=True)`), so two updates
    cannot take one number."""
    current = deployment.current_release
    assert current is not None  # every deployment is made with release 1
    check_instances(
        current.min_instances if min_instances is None else min_instances,
        current.max_instances if max_instances is None else max_instances,
    )
    release = DeploymentRelease.objects.create(
        deployment=deployment,
        number=current.number + 1,
        model=current.model,
        version=version or current.version,
        hardware=hardware or current.hardware,
        min_instances=current.min_instances if min_instances is None else min_instances,
        max_instances=current.max_instances if max_instances is None else max_instances,
        created_by=created_by,
    )
    deployment.current_release = release
    deployment.save(update_fields=["current_release"])
    return deployment


def deployment_delete(*, deployment: Deployment) -> None:
    """Its predictions stay (they no longer name it); its instances stop within a keep-warm
    interval, when the workers see it gone."""
    deployment.delete()
