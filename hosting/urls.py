from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from accounts.api import AccountDetailApi, WebhookSecretApi
from billing.api import AccountUsageApi, HardwareListApi
from hosting.openapi import schema_urlpatterns
from hosting.problems import NotFound, problem_response


def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return problem_response(NotFound("No such endpoint."))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/account", AccountDetailApi.as_view()),
    path("v1/account/usage", AccountUsageApi.as_view()),
    path("v1/hardware", HardwareListApi.as_view()),
    path("v1/webhooks/default/secret", WebhookSecretApi.as_view()),
    *schema_urlpatterns,
    path("v1/", include("inference.api.urls")),
    path("v1/<path:rest>", api_not_found),
    # Browser pages; inference's last, since its /<owner>/<name> model pages match any two segments.
    path("", include("accounts.urls")),
    path("", include("billing.urls")),
    path("", include("inference.web.urls")),
]
