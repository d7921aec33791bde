"""Reads for the OpenAI-compatible endpoints, scoped like every read to what the account may run."""

from accounts.models import Account
from inference import selectors
from inference.deployments import selectors as deployment_selectors
from inference.models import Model, OpenAIApi
from inference.openai_compat.targets import DEPLOYMENT_PREFIX


def openai_model_list(*, account: Account) -> list[tuple[str, Model]]:
    """(the name a request gives it, model): every model the account may run that declares
    itself and has a version, then the account's deployments of such models."""
    models = selectors.model_catalogue(account=account).exclude(openai_api=OpenAIApi.NONE)
    listed = [
        (model.full_name, model)
        for model in models.filter(latest_version__isnull=False).order_by("owner__username", "name")
    ]
    for deployment in deployment_selectors.deployment_list(account=account):
        release = deployment.current_release
        if release is not None and release.model.openai_api != OpenAIApi.NONE:
            listed.append((f"{DEPLOYMENT_PREFIX}{deployment.full_name}", release.model))
    return listed
