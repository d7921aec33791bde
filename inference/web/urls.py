"""Browser pages of the inference app. Included last in hosting/urls.py: /<owner>/<name> would
otherwise catch every two-segment path (account names that clash are refused at sign-up)."""

from django.urls import path

from inference.web import views

urlpatterns = [
    path("models", views.model_list, name="model-list"),
    path("predictions", views.prediction_list, name="prediction-list"),
    path("p/<str:prediction_id>", views.prediction_detail, name="prediction-detail"),
    path("p/<str:prediction_id>/cancel", views.prediction_cancel, name="prediction-cancel"),
    path("<slug:owner>/<slug:name>", views.model_detail, name="model-detail"),
    path("<slug:owner>/<slug:name>/predictions", views.model_run, name="model-run"),
]
