"""Browser pages of the inference app: catalogue, model pages with the playground, and
prediction history. Signed-in users act for their personal account; everything is read
through `selectors`, so another tenant's private objects are 404s here as in the API."""

import hmac
import json
import time
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.services import personal_account_for
from hosting.markdown import render_markdown
from hosting.problems import ApiProblem, NotFound
from inference import catalogue, selectors, services
from inference.files import storage
from inference.models import Model, Prediction, Version
from inference.representations import base_url, cover_signature
from inference.trainings import selectors as training_selectors
from inference.web import default_example, examples, playground

CATALOGUE_LIMIT = 200
HISTORY_PAGE_SIZE = 50


def acting_account(request: HttpRequest):
    """The account a signed-in browser acts for (its user's personal account)."""
    return personal_account_for(user=request.user)


def or_404(selector, **kwargs):
    """A selector's object, its NotFound turned into the page's 404."""
    try:
        return selector(**kwargs)
    except NotFound as exc:
        raise Http404(exc.detail) from exc


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    models = selectors.model_catalogue(account=acting_account(request), query=query)[:CATALOGUE_LIMIT]
    return render(request, "inference/model_list.html", {"models": models, "query": query})


def _bound_fields(fields, posted, errors) -> list[dict[str, Any]]:
    """What each form control shows: the posted text after a failed run, else the default."""
    bound = []
    for field in fields:
        if posted is None:
            value, checked = field.initial, bool(field.default)
        else:
            value, checked = posted.get(field.name, ""), field.name in posted
        bound.append({"field": field, "value": value, "checked": checked, "errors": errors.get(field.name, [])})
    return bound


def playground_form(fields, *, display: str, posted=None, errors=None) -> dict[str, Any]:
    """What templates/inference/playground.html needs besides where Run posts to."""
    return {
        "fields": _bound_fields(fields, posted, errors or {}),
        "has_files": any(field.widget in ("file", "files") for field in fields),
        "has_required": any(field.required for field in fields),
        "display": display,
    }


def _versions_with_their_trainings(model: Model, *, account) -> list[tuple[Version, Prediction | None]]:
    """Each version, with the account's training that made it (the version page links back to it)."""
    versions = list(selectors.version_list(model=model))
    made = training_selectors.trainings_that_made(account=account, versions=versions)
    return [(version, made.get(version.pk)) for version in versions]


def _model_page(
    request: HttpRequest, model: Model, version: Version | None, *, posted=None, errors=None, status: int = 200
) -> HttpResponse:
    errors = errors or {}
    context: dict[str, Any] = {
        "model": model,
        "version": version,
        "versions": _versions_with_their_trainings(model, account=acting_account(request)),
        "readme": render_markdown(model.readme, heading_offset=2) if model.readme else "",
        "form_errors": errors.get("__all__", []),
        "example": default_example.context(model, origin=base_url(request)),
    }
    if version is not None:
        schema = version.openapi_schema
        fields = playground.form_fields(schema)
        is_latest = version.pk == model.latest_version_id
        origin = base_url(request)
        example = examples.example_input(fields)
        display = playground.output_display(schema)
        components = schema.get("components", {}).get("schemas", {})
        context |= playground_form(fields, display=display, posted=posted, errors=errors)
        context |= {
            "shell_example": examples.shell_environment(origin=origin),
            "python_example": examples.python_example(
                model_ref=model.full_name if is_latest else f"{model.full_name}:{version.sha256}",
                input=example,
                streams=display == "concatenate",
            ),
            "curl_example": examples.curl_example(
                origin=origin, model_ref=model.full_name, input=example, version=None if is_latest else version.sha256
            ),
            "schema_fields": fields,
            "output_type": _output_type(components.get("Output", {})),
            "schema_json": json.dumps(components, indent=2),
        }
    return render(request, "inference/model_detail.html", context, status=status)


def _output_type(output: dict[str, Any]) -> str:
    """The output schema in a few words: "string", "file", "iterator of string", "object"."""

    def name(schema: dict[str, Any]) -> str:
        return "file" if schema.get("format") == "uri" else schema.get("type") or "any value"

    if output.get("type") == "array":
        kind = "iterator" if output.get("x-cog-array-type") == "iterator" else "list"
        return f"{kind} of {name(output.get('items') or {})}"
    return name(output)


def _version(model: Model, version_id: str | None) -> Version | None:
    if version_id:
        return or_404(selectors.version_get, model=model, version_id=version_id)
    return model.latest_version


@login_required
@require_GET
def model_detail(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    model = or_404(selectors.model_get, account=acting_account(request), owner=owner, name=name)
    return _model_page(request, model, _version(model, request.GET.get("version")))


# An SVG cover opened on its own is a document: it may run nothing and load nothing.
_COVER_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@require_GET
def model_cover(request: HttpRequest, owner: str, name: str) -> FileResponse:
    """A model's own cover image (inference.catalogue). With the signature of its Model JSON's
    `cover_image_url` (a capability URL), to whoever holds it; without, as the pages link it: a
    public model's to anyone, a private one's to its signed-in owner."""
    signature = request.GET.get("signature")
    if signature is not None:
        model = Model.objects.select_related("owner").filter(owner__username=owner, name=name).first()
        if model is None or not model.cover_image or not hmac.compare_digest(cover_signature(model), signature):
            raise Http404("No such cover.")
    else:
        account = acting_account(request) if request.user.is_authenticated else None
        model = or_404(selectors.model_get, account=account, owner=owner, name=name)
        if not model.cover_image:
            raise Http404("This model has no cover image.")
    response = FileResponse(
        model.cover_image.open("rb"), content_type=catalogue.cover_content_type(model.cover_image.name or "")
    )
    response.headers["Content-Security-Policy"] = _COVER_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A signed URL names one cover for good; the page's plain one shows a new cover within 5 minutes.
    response.headers["Cache-Control"] = f"private, max-age={86400 if signature else 300}"
    return response


def prediction_links(prediction: Prediction) -> dict[str, str]:
    return {
        "id": prediction.id,
        "url": reverse("prediction-detail", args=[prediction.id]),
        "cancel_url": reverse("prediction-cancel", args=[prediction.id]),
        "websocket": f"/ws/predictions/{prediction.id}/",
    }


def _epoch_ms(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp() * 1000


def prediction_times(prediction: Prediction) -> dict[str, dict[str, float | None]]:
    """When it was created, started and completed, and the server's time now (ms since the
    epoch): the page shows how long it has been queued, booting or running by the server's
    clock, whatever the browser's says (`now` gives the difference)."""
    return {
        "times": {
            "created": _epoch_ms(prediction.created_at),
            "started": _epoch_ms(prediction.started_at),
            "completed": _epoch_ms(prediction.completed_at),
            "now": time.time() * 1000,
        }
    }


@login_required
@require_POST
def model_run(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    """The playground's Run: a `web` prediction from the form. Scripts get JSON (201, or 422
    with errors per field); without JavaScript the page comes back with the errors shown."""
    account = acting_account(request)
    model = or_404(selectors.model_get, account=account, owner=owner, name=name)
    version = _version(model, request.POST.get("version"))
    if version is None:
        raise Http404("This model has no version to run yet.")
    return playground_run(
        request,
        account=account,
        version=version,
        page=lambda errors, status: _model_page(
            request, model, version, posted=request.POST, errors=errors, status=status
        ),
    )


def playground_run(request: HttpRequest, *, account, version: Version, page, deployment=None) -> HttpResponse:
    """A `web` prediction from the playground's form, of `version` (through `deployment` if
    given). Scripts get JSON (201, or 422 with errors per field); without JavaScript, the
    prediction's page, or `page(errors, status)` with the errors shown."""
    try:
        input = playground.input_from_form(version.openapi_schema, request.POST, request.FILES)
        prediction = services.prediction_create(
            account=account, version=version, input=input, source=Prediction.Source.WEB, deployment=deployment
        )
    except playground.PlaygroundInputError as exc:
        errors, status = exc.errors, 422
    except services.InvalidInput as problem:  # what only the service checks, e.g. a file URL
        errors, status = playground.field_errors(problem.extra["invalid_fields"]), 422
    except ApiProblem as problem:  # e.g. 402: the spending limit is reached
        errors, status = {"__all__": [f"{problem.title}. {problem.detail}"]}, problem.status
    else:
        if _wants_json(request):
            body = prediction_links(prediction) | prediction_times(prediction) | {"status": prediction.status}
            return JsonResponse(body, status=201)
        return redirect("prediction-detail", prediction.id)
    if _wants_json(request):
        return JsonResponse({"errors": errors}, status=status)
    return page(errors, status)


@login_required
@require_GET
def prediction_list(request: HttpRequest) -> HttpResponse:
    status, model = request.GET.get("status", ""), request.GET.get("model", "").strip()
    if status not in Prediction.Status.values:
        status = ""
    predictions = selectors.prediction_history(account=acting_account(request), status=status, model=model)
    page = Paginator(predictions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "model": model, "statuses": Prediction.Status.choices}
    return render(request, "inference/prediction_list.html", context)


def prediction_state(prediction: Prediction, *, origin: str) -> dict[str, Any]:
    """What the page's script starts from (it then follows the websocket if still running).
    Web predictions are kept for good, so their output files get fresh links on each view."""
    return {
        **prediction_links(prediction),
        **prediction_times(prediction),
        "status": prediction.status,
        "output": storage.output_with_renewed_urls(prediction, origin=origin),
        "logs": prediction.logs,
        "error": prediction.error,
        "metrics": prediction.metrics,
        "display": playground.output_display(prediction.version.openapi_schema),
    }


@login_required
@require_GET
def prediction_detail(request: HttpRequest, prediction_id: str) -> HttpResponse:
    prediction = or_404(selectors.prediction_get, account=acting_account(request), prediction_id=prediction_id)
    context = {
        "prediction": prediction,
        "state": prediction_state(prediction, origin=base_url(request)),
        "input_json": json.dumps(prediction.input, indent=2),
        "deliveries": prediction.webhook_deliveries.all(),
    }
    return render(request, "inference/prediction_detail.html", context)


@login_required
@require_POST
def prediction_cancel(request: HttpRequest, prediction_id: str) -> HttpResponse:
    prediction = or_404(selectors.prediction_get, account=acting_account(request), prediction_id=prediction_id)
    prediction = services.prediction_cancel(prediction=prediction)
    if _wants_json(request):
        return JsonResponse({"id": prediction.id, "status": prediction.status})
    return redirect("prediction-detail", prediction.id)
