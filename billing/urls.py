from django.urls import path

from billing import views

urlpatterns = [
    path("account/usage", views.usage, name="usage"),
]
