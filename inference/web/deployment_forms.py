"""The dashboard's deployment forms. The rules are the services' (`deployments.services`), as
for the API: a rule the service refuses shows next to the field it names."""

from typing import Any

from django import forms
from django.conf import settings

from accounts.models import Account
from billing.models import Hardware
from inference.deployments import services
from inference.models import Deployment

_NAME_RULE = "Lowercase letters, digits, dashes, underscores and dots, starting with a letter or digit."


def _instances(label: str, *, min_value: int, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, min_value=min_value, max_value=settings.DEPLOYMENT_MAX_INSTANCES, required=required
    )


def _hardware(required: bool = True) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(Hardware.objects.all(), to_field_name="sku", required=required)


class _ReleaseForm(forms.Form):
    def _refused(self, exc: services.InvalidDeployment) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, str(exc))


class DeploymentCreateForm(_ReleaseForm):
    name = forms.RegexField(r"^[a-z0-9][a-z0-9._-]*$", max_length=100, help_text=_NAME_RULE)
    model = forms.CharField(max_length=200, help_text="owner/name: your own model or a public one")
    version = forms.CharField(max_length=64, required=False, help_text="Empty: the model's latest version")
    hardware = _hardware()
    min_instances = _instances("Minimum instances", min_value=0)
    max_instances = _instances("Maximum instances", min_value=1)

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            model = services.model_to_deploy(account=self.account, model_ref=data["model"])
            version_id = data["version"] or (model.latest_version.sha256 if model.latest_version else "")
            data["version"] = services.version_of(model, version_id)
            services.check_instances(data["min_instances"], data["max_instances"])
        except services.InvalidDeployment as exc:
            self._refused(exc)
        return data


class DeploymentEditForm(_ReleaseForm):
    """A new release: the current one with what the form changes."""

    version = forms.CharField(max_length=64)
    hardware = _hardware()
    min_instances = _instances("Minimum instances", min_value=0)
    max_instances = _instances("Maximum instances", min_value=1)

    def __init__(self, *args: Any, deployment: Deployment, **kwargs: Any) -> None:
        release = deployment.current_release
        assert release is not None  # made with release 1
        initial = {
            "version": release.version.sha256,
            "hardware": release.hardware.sku,
            "min_instances": release.min_instances,
            "max_instances": release.max_instances,
        }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.release = release

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["version"] = services.version_of(self.release.model, data["version"])
            services.check_instances(data["min_instances"], data["max_instances"])
        except services.InvalidDeployment as exc:
            self._refused(exc)
        return data
