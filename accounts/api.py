"""/v1 endpoints of the accounts app: who the token belongs to, and its webhook secret."""

from typing import Annotated

from drf_spectacular.utils import extend_schema
from pydantic import Field
from rest_framework.response import Response
from typing_extensions import TypedDict

from accounts.endpoints import AccountEndpoint
from accounts.models import Account
from accounts.services import webhook_secret
from hosting.openapi import AUTHENTICATED_PROBLEMS, json_response
from hosting.shapes import shape


@shape
class AccountJSON(TypedDict):
    type: Annotated[str, Field(json_schema_extra={"enum": list(Account.Kind.values)})]
    username: str
    name: str
    github_url: str | None


@shape
class WebhookSecretJSON(TypedDict):
    key: Annotated[str, Field(examples=["whsec_..."])]


def account_json(account: Account) -> AccountJSON:
    return {
        "type": account.kind,
        "username": account.username,
        "name": account.name or account.username,
        "github_url": account.github_url or None,
    }


class AccountDetail(AccountEndpoint):
    @extend_schema(
        summary="The account the token belongs to",
        tags=["account"],
        responses={200: json_response("Account"), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        return Response(account_json(self.account))


class WebhookSecret(AccountEndpoint):
    @extend_schema(
        summary="The secret that signs this account's webhooks",
        tags=["webhooks"],
        responses={200: json_response("WebhookSecret"), **AUTHENTICATED_PROBLEMS},
    )
    def get(self, request):
        secret: WebhookSecretJSON = {"key": webhook_secret(self.account)}
        return Response(secret)
