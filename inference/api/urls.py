"""/v1 routes of the inference app (hosting/urls.py mounts them under /v1/)."""

from django.urls import path

from inference.api import collections, deployments, files, model_versions, predictions, streaming, trainings

urlpatterns = [
    path("predictions", predictions.PredictionCollection.as_view()),
    path("predictions/<str:prediction_id>", predictions.PredictionDetail.as_view()),
    path("predictions/<str:prediction_id>/cancel", predictions.PredictionCancel.as_view()),
    path("predictions/<str:prediction_id>/stream", streaming.PredictionStream.as_view()),
    path("models", model_versions.ModelCollection.as_view()),
    path("models/<str:owner>/<str:name>", model_versions.ModelDetail.as_view()),
    path("models/<str:owner>/<str:name>/predictions", predictions.ModelPredictionCollection.as_view()),
    path("models/<str:owner>/<str:name>/versions", model_versions.VersionCollection.as_view()),
    path("models/<str:owner>/<str:name>/versions/<str:version_id>", model_versions.VersionDetail.as_view()),
    path("models/<str:owner>/<str:name>/versions/<str:version_id>/trainings", trainings.TrainingCreate.as_view()),
    path("trainings", trainings.TrainingCollection.as_view()),
    path("trainings/<str:training_id>", trainings.TrainingDetail.as_view()),
    path("trainings/<str:training_id>/cancel", trainings.TrainingCancel.as_view()),
    path("deployments", deployments.DeploymentCollection.as_view()),
    path("deployments/<str:owner>/<str:name>", deployments.DeploymentDetail.as_view()),
    path("deployments/<str:owner>/<str:name>/predictions", deployments.DeploymentPredictionCollection.as_view()),
    path("collections", collections.CollectionList.as_view()),
    path("collections/<str:slug>", collections.CollectionDetail.as_view()),
    path("search", collections.Search.as_view()),
    path("files", files.FileCollection.as_view()),
    path("files/<str:file_id>", files.FileDetail.as_view()),
    path("files/<str:file_id>/download/<str:filename>", files.FileDownload.as_view()),
]
