"""Read and cancel endpoints of /v1 (DRF). Creation lives in `api_create` (async hot path).

Every handler resolves objects through `selectors`, which scope them to the caller's account.
"""

from django.conf import settings
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Hardware
from hosting.pagination import cursor_page
from inference import api_models, selectors, services, webhooks
from inference.serializers import (
    account_json,
    base_url,
    hardware_json,
    model_json,
    prediction_json,
    version_json,
)


class PredictionListApi(APIView):
    def get(self, request):
        origin = base_url(request)
        page = cursor_page(
            selectors.prediction_list(account=request.user),
            cursor=request.query_params.get("cursor"),
            page_size=settings.PREDICTIONS_PAGE_SIZE,
            page_url=f"{origin}/v1/predictions",
            render=lambda prediction: prediction_json(prediction, origin=origin),
        )
        return Response(page)


class PredictionDetailApi(APIView):
    def get(self, request, prediction_id: str):
        prediction = selectors.prediction_get(account=request.user, prediction_id=prediction_id)
        return Response(prediction_json(prediction, origin=base_url(request)))


class PredictionCancelApi(APIView):
    def post(self, request, prediction_id: str):
        prediction = selectors.prediction_get(account=request.user, prediction_id=prediction_id)
        prediction = services.prediction_cancel(prediction=prediction)
        return Response(prediction_json(prediction, origin=base_url(request)))


class ModelDetailApi(APIView):
    def get(self, request, owner: str, name: str):
        model = selectors.model_get(account=request.user, owner=owner, name=name)
        return Response(model_json(model, origin=base_url(request)))


class VersionListApi(APIView):
    # The upload is a raw .tar.gz body, read from request.stream; no parser touches it.
    parser_classes = []

    def post(self, request, owner: str, name: str):
        return api_models.version_upload(request, owner, name)

    def get(self, request, owner: str, name: str):
        model = selectors.model_get(account=request.user, owner=owner, name=name)
        versions = [version_json(v) for v in selectors.version_list(model=model)]
        return Response({"previous": None, "next": None, "results": versions})


class VersionDetailApi(APIView):
    def get(self, request, owner: str, name: str, version_id: str):
        model = selectors.model_get(account=request.user, owner=owner, name=name)
        return Response(version_json(selectors.version_get(model=model, version_id=version_id)))


class AccountDetailApi(APIView):
    def get(self, request):
        return Response(account_json(request.user))


class HardwareListApi(APIView):
    def get(self, request):
        return Response([hardware_json(hardware) for hardware in Hardware.objects.all()])


class WebhookSecretApi(APIView):
    def get(self, request):
        return Response({"key": webhooks.account_secret(request.user)})
