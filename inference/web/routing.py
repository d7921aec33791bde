from django.urls import path

from inference.web.consumers import PredictionConsumer

websocket_urlpatterns = [
    path("ws/predictions/<str:prediction_id>/", PredictionConsumer.as_asgi()),
]
