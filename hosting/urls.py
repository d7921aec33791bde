from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from accounts.api import AccountDetail, WebhookSecret
from billing.api import AccountUsage, HardwareList
from hosting.openapi import schema_urlpatterns
from hosting.problems import NotFound, problem_response


def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return problem_response(NotFound("No such endpoint."))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/account", AccountDetail.as_view()),
    path("v1/account/usage", AccountUsage.as_view()),
    path("v1/hardware", HardwareList.as_view()),
    path("v1/webhooks/default/secret", WebhookSecret.as_view()),
    *schema_urlpatterns,
    path("v1/", include("inference.api.urls")),
    path("v1/<path:rest>", api_not_found),
    # OpenAI's API over the same models and tokens (inference/openai_compat), under a base of its own.
    path("openai/v1/", include("inference.openai_compat.urls")),
    # Browser pages; inference's last, since its /<owner>/<name> model pages match any two segments.
    path("", include("accounts.urls")),
    path("", include("billing.urls")),
    path("", include("inference.web.urls")),
]
