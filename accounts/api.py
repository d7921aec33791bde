"""/v1 endpoints of the accounts app (DRF): who the token belongs to, and its webhook secret."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from accounts.services import webhook_secret


def account_json(account: Account) -> dict[str, Any]:
    return {
        "type": account.kind,
        "username": account.username,
        "name": account.name or account.username,
        "github_url": account.github_url or None,
    }


class AccountDetailApi(APIView):
    """GET /v1/account."""

    def get(self, request):
        return Response(account_json(request.user))


class WebhookSecretApi(APIView):
    """GET /v1/webhooks/default/secret: the key that signs this account's webhooks."""

    def get(self, request):
        return Response({"key": webhook_secret(request.user)})
