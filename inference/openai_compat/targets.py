"""What a request's `model` names: `owner/name` (its latest version), `owner/name:version`, or
`deployments/owner/name` (one of the caller's deployments: its current release). The model must
be one the caller may run and must declare itself for the endpoint (`Model.openai_api`);
anything else is OpenAI's `model_not_found`, so another tenant's private model looks exactly
like a missing one."""

from dataclasses import dataclass

from accounts.models import Account
from hosting.problems import NotFound
from inference import selectors
from inference.deployments import selectors as deployment_selectors
from inference.models import Deployment, Model, OpenAIApi, Version
from inference.openai_compat.errors import OpenAIError, model_not_found

DEPLOYMENT_PREFIX = "deployments/"


@dataclass(frozen=True)
class Target:
    version: Version  # its `model` loaded
    deployment: Deployment | None = None

    @property
    def model(self) -> Model:
        return self.version.model


def target_for(*, account: Account, name: str, api: OpenAIApi) -> Target:
    """The version (and deployment) that `name` runs for `account`, declared for `api`."""
    try:
        target = _resolved(account, name)
    except NotFound as exc:
        raise model_not_found(name) from exc
    if target.model.openai_api != api:
        endpoint = "/chat/completions and /completions" if api == OpenAIApi.CHAT else "/embeddings"
        raise OpenAIError(
            404,
            f"The model `{name}` is not served by {endpoint}: its owner has not declared it "
            f"a{'n' if api == OpenAIApi.EMBEDDINGS else ''} {api} model.",
            param="model",
            code="model_not_supported",
        )
    return target


def _resolved(account: Account, name: str) -> Target:
    if name.startswith(DEPLOYMENT_PREFIX):
        owner, slash, deployment_name = name.removeprefix(DEPLOYMENT_PREFIX).partition("/")
        if not slash:
            raise NotFound()
        deployment = deployment_selectors.deployment_get(account=account, owner=owner, name=deployment_name)
        release = deployment.current_release
        if release is None:
            raise NotFound()
        version = release.version
        version.model = release.model
        return Target(version=version, deployment=deployment)
    if ":" in name:
        model_ref, _, version_id = name.rpartition(":")
        found = selectors.version_get_by_id(account=account, version_id=version_id, model_ref=model_ref)
        if found is None or "/" not in model_ref:
            raise NotFound()
        return Target(version=found)
    owner, slash, model_name = name.partition("/")
    if not slash:
        raise NotFound()
    model = selectors.model_to_run(account=account, owner=owner, name=model_name)
    if model.latest_version is None:
        raise NotFound()
    version = model.latest_version
    version.model = model
    return Target(version=version)
