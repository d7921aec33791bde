"""The base of every /v1 endpoint that acts for an account (the model: Sentry's endpoint bases).

`self.account` is the caller's tenant, resolved once per request from its API token: by
`ApiTokenAuthentication` for sync handlers, by `aidentity_for_header` (the same lookup, cached,
without a thread) for async ones. Handlers pass it to their app's selectors, which filter every
lookup by it, so another tenant's private object is a 404 like a missing one.
"""

from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.authentication import TokenIdentity, aidentity_for_header
from accounts.models import Account
from hosting.api import Endpoint


class AccountEndpoint(Endpoint):
    account: Account
    token_id: int

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # DRF: authentication (401 without a token), throttles
        assert isinstance(request.auth, TokenIdentity)  # what ApiTokenAuthentication sets
        self._resolved(request.auth)

    async def authenticate_async(self, request: HttpRequest) -> None:
        self._resolved(await aidentity_for_header(request.headers.get("Authorization")))

    def _resolved(self, identity: TokenIdentity) -> None:
        self.account, self.token_id = identity.account, identity.token_id
