"""The dashboard's deployment pages: the list with a create form, and a deployment's page with
its current release, instances now, queue, release history, recent predictions, an edit form
(each save is a new release) and a playground that runs through it. Owner-only, like the API."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from inference.deployments import instances
from inference.deployments import selectors as deployment_selectors
from inference.deployments import services as deployment_services
from inference.models import Deployment, Prediction
from inference.web import playground
from inference.web.deployment_forms import DeploymentCreateForm, DeploymentEditForm
from inference.web.views import acting_account, or_404, playground_form, playground_run

RECENT_PREDICTIONS = 10


def _list_page(request: HttpRequest, form: DeploymentCreateForm, *, status: int = 200) -> HttpResponse:
    deployments = deployment_selectors.deployment_list(account=acting_account(request))
    return render(request, "inference/deployment_list.html", {"deployments": deployments, "form": form}, status=status)


@login_required
@require_GET
def deployment_list(request: HttpRequest) -> HttpResponse:
    initial = {"min_instances": 0, "max_instances": 1, "hardware": "cpu", "model": request.GET.get("model", "")}
    return _list_page(request, DeploymentCreateForm(account=acting_account(request), initial=initial))


@login_required
@require_POST
def deployment_create(request: HttpRequest) -> HttpResponse:
    account = acting_account(request)
    form = DeploymentCreateForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        try:
            deployment = deployment_services.deployment_create(
                account=account,
                name=data["name"],
                version=data["version"],
                hardware=data["hardware"],
                min_instances=data["min_instances"],
                max_instances=data["max_instances"],
            )
        except deployment_services.DeploymentExists as exc:
            form.add_error("name", str(exc))
        else:
            return redirect("deployment-detail", account.username, deployment.name)
    return _list_page(request, form, status=400)


def _queue(deployment: Deployment) -> dict[str, int]:
    counts = dict(
        deployment.predictions.filter(status__in=[Prediction.Status.STARTING, Prediction.Status.PROCESSING])
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    return {"queued": counts.get(Prediction.Status.STARTING, 0), "running": counts.get(Prediction.Status.PROCESSING, 0)}


def _detail_page(
    request: HttpRequest, deployment: Deployment, *, edit_form=None, posted=None, errors=None, status: int = 200
) -> HttpResponse:
    release = deployment.current_release
    assert release is not None  # made with release 1
    schema = release.version.openapi_schema
    fields = playground.form_fields(schema)
    context: dict[str, Any] = {
        "deployment": deployment,
        "release": release,
        "model": release.model,
        "history": deployment_selectors.release_history(deployment=deployment),
        "instances": instances.instance_counts(version=release.version.sha256, hardware=release.hardware.sku),
        "queue": _queue(deployment),
        "recent": deployment.predictions.select_related("model__owner").order_by("-created_at")[:RECENT_PREDICTIONS],
        "edit_form": edit_form or DeploymentEditForm(deployment=deployment),
        "form_errors": (errors or {}).get("__all__", []),
        **playground_form(fields, display=playground.output_display(schema), posted=posted, errors=errors),
    }
    return render(request, "inference/deployment_detail.html", context, status=status)


def _deployment(request: HttpRequest, owner: str, name: str, *, for_update: bool = False) -> Deployment:
    return or_404(
        deployment_selectors.deployment_get,
        account=acting_account(request),
        owner=owner,
        name=name,
        for_update=for_update,
    )


@login_required
@require_GET
def deployment_detail(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    return _detail_page(request, _deployment(request, owner, name))


@login_required
@require_POST
def deployment_edit(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    with transaction.atomic():
        deployment = _deployment(request, owner, name, for_update=True)
        form = DeploymentEditForm(request.POST, deployment=deployment)
        if form.is_valid():
            deployment_services.deployment_release(
                deployment=deployment, created_by=acting_account(request), **form.cleaned_data
            )
            return redirect("deployment-detail", owner, name)
    return _detail_page(request, deployment, edit_form=form, status=400)


@login_required
@require_POST
def deployment_cache(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    """Whether every prediction through it asks for the prediction cache (as `Prefer: cache`
    does for one); not part of a release, so no new one is made."""
    deployment = _deployment(request, owner, name)
    deployment.cache_predictions = request.POST.get("cache_predictions") == "on"
    deployment.save(update_fields=["cache_predictions"])
    return redirect(reverse("deployment-detail", args=[owner, name]) + "#cache")


@login_required
@require_POST
def deployment_delete(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    deployment_services.deployment_delete(deployment=_deployment(request, owner, name))
    return redirect("deployment-list")


@login_required
@require_POST
def deployment_run(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    deployment = _deployment(request, owner, name)
    release = deployment.current_release
    assert release is not None  # made with release 1
    version = release.version
    version.model = release.model
    return playground_run(
        request,
        account=acting_account(request),
        version=version,
        deployment=deployment,
        page=lambda errors, status: _detail_page(
            request, deployment, posted=request.POST, errors=errors, status=status
        ),
    )
