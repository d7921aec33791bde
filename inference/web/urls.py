"""Browser pages of the inference app. Included last in hosting/urls.py: /<owner>/<name> would
otherwise catch every two-segment path (account names that clash are refused at sign-up)."""

from django.urls import path

from inference.web import deployments, metrics, trainings, views

urlpatterns = [
    path("metrics", metrics.prometheus_metrics, name="metrics"),
    path("metrics/scaling", metrics.scaling, name="metrics-scaling"),
    path("models", views.model_list, name="model-list"),
    path("deployments", deployments.deployment_list, name="deployment-list"),
    path("deployments/new", deployments.deployment_create, name="deployment-create"),
    path("deployments/<slug:owner>/<str:name>", deployments.deployment_detail, name="deployment-detail"),
    path("deployments/<slug:owner>/<str:name>/edit", deployments.deployment_edit, name="deployment-edit"),
    path("deployments/<slug:owner>/<str:name>/delete", deployments.deployment_delete, name="deployment-delete"),
    path("deployments/<slug:owner>/<str:name>/cache", deployments.deployment_cache, name="deployment-cache"),
    path("deployments/<slug:owner>/<str:name>/predictions", deployments.deployment_run, name="deployment-run"),
    path("predictions", views.prediction_list, name="prediction-list"),
    path("trainings", trainings.training_list, name="training-list"),
    path("p/<str:prediction_id>", views.prediction_detail, name="prediction-detail"),
    path("p/<str:prediction_id>/cancel", views.prediction_cancel, name="prediction-cancel"),
    path("<slug:owner>/<slug:name>", views.model_detail, name="model-detail"),
    path("<slug:owner>/<slug:name>/predictions", views.model_run, name="model-run"),
    path("<slug:owner>/<slug:name>/train", trainings.model_train, name="model-train"),
    path("<slug:owner>/<slug:name>/cover", views.model_cover, name="model-cover"),
]
