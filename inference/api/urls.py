from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from hosting.problems import ApiProblem, problem_response
from inference.api import files, model_versions, predictions, streaming

_prediction_list = predictions.PredictionListApi.as_view()


def _method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    problem = ApiProblem(405, "Method not allowed", f"{request.method} is not allowed here; use {allowed}.")
    problem.headers["Allow"] = allowed
    return problem_response(problem)


@csrf_exempt
async def predictions_collection(request: HttpRequest) -> HttpResponse:
    """/v1/predictions: POST creates on the async hot path, GET lists through DRF."""
    if request.method == "POST":
        return await predictions.prediction_create(request)
    if request.method == "GET":
        return await sync_to_async(_prediction_list)(request)
    return _method_not_allowed(request, "GET, POST")


@csrf_exempt
async def model_predictions_collection(request: HttpRequest, owner: str, name: str) -> HttpResponse:
    if request.method == "POST":
        return await predictions.model_prediction_create(request, owner, name)
    return _method_not_allowed(request, "POST")


urlpatterns = [
    path("predictions", predictions_collection),
    path("predictions/<str:prediction_id>", predictions.PredictionDetailApi.as_view()),
    path("predictions/<str:prediction_id>/cancel", predictions.PredictionCancelApi.as_view()),
    path("predictions/<str:prediction_id>/stream", streaming.prediction_stream),
    path("models", model_versions.ModelCreateApi.as_view()),
    path("models/<str:owner>/<str:name>", model_versions.ModelDetailApi.as_view()),
    path("models/<str:owner>/<str:name>/predictions", model_predictions_collection),
    path("models/<str:owner>/<str:name>/versions", model_versions.VersionListApi.as_view()),
    path("models/<str:owner>/<str:name>/versions/<str:version_id>", model_versions.VersionDetailApi.as_view()),
    path("files", files.FileCollectionApi.as_view()),
    path("files/<str:file_id>", files.FileDetailApi.as_view()),
    path("files/<str:file_id>/download/<str:filename>", files.file_download),
]
