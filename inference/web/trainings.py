"""The dashboard's trainings: the Train tab of a model whose version has a `train:` entry point
(a form made from its TrainingInput schema, file uploads included, and a destination of the
account's own), and the list of the account's trainings. A training's own page is the
prediction page, whose logs stream over the websocket and which links the version it made."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from hosting.problems import ApiProblem, NotFound
from inference import selectors, services
from inference.models import Model, Prediction, Version
from inference.trainings import selectors as training_selectors
from inference.trainings import services as training_services
from inference.web import playground
from inference.web.views import HISTORY_PAGE_SIZE, acting_account, or_404, playground_form


def _trainable(model: Model, version_id: str | None) -> Version:
    version = or_404(selectors.version_get, model=model, version_id=version_id) if version_id else model.latest_version
    if version is None or not version.trainable:
        raise Http404("This model has no version that can be trained.")
    version.model = model
    return version


def _start(request: HttpRequest, account, version: Version) -> Prediction | dict[str, list[str]]:
    """The training the form asks for, or the errors to show beside each field."""
    try:
        input = playground.input_from_form(
            version.openapi_schema, request.POST, request.FILES, component="TrainingInput"
        )
        return training_services.training_create(
            account=account,
            version=version,
            destination=request.POST.get("destination", ""),
            input=input,
            source=Prediction.Source.WEB,
        )
    except playground.PlaygroundInputError as exc:
        return exc.errors
    except services.InvalidInput as problem:  # what only the service checks, e.g. a file URL
        return playground.field_errors(problem.extra["invalid_fields"])
    except NotFound as exc:  # the only 404 left: the destination
        return {"destination": [str(exc.detail)]}
    except ApiProblem as problem:  # a malformed destination (422), the spending limit (402), ...
        fields = problem.extra.get("invalid_fields") or []
        if fields and fields[0]["field"] == "destination":
            return {"destination": [problem.detail]}
        return {"__all__": [f"{problem.title}. {problem.detail}"]}


@login_required
@require_http_methods(["GET", "POST"])
def model_train(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    account = acting_account(request)
    model = or_404(selectors.model_get, account=account, owner=owner, name=name)
    version = _trainable(model, request.POST.get("version") or request.GET.get("version"))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        started = _start(request, account, version)
        if isinstance(started, Prediction):
            return redirect("prediction-detail", started.id)
        errors = started
    fields = playground.form_fields(version.openapi_schema, component="TrainingInput")
    context: dict[str, Any] = {
        "model": model,
        "version": version,
        "destinations": training_selectors.destinations(account=account),
        "destination": request.POST.get("destination", ""),
        "destination_errors": errors.get("destination", []),
        "form_errors": errors.get("__all__", []),
        **playground_form(fields, display="single", posted=request.POST or None, errors=errors),
    }
    return render(request, "inference/model_train.html", context, status=422 if errors else 200)


@login_required
@require_GET
def training_list(request: HttpRequest) -> HttpResponse:
    trainings = training_selectors.training_list(account=acting_account(request))
    page = Paginator(trainings, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "inference/training_list.html", {"page": page})
