"""API token authentication for the /v1 API, shared by DRF views and plain async views.

A token lookup is one indexed query on the digest. Results are cached per process for
`TOKEN_CACHE_SECONDS`, so a revoked token stops working within that many seconds.
"""

from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from accounts.models import TOKEN_PREFIX, Account, ApiToken, token_digest
from hosting.expiring_cache import ExpiringCache
from hosting.problems import NotAuthenticated

_SCHEMES = ("bearer", "token")
# last_used_at is a hint for people, not an audit log: refresh it at most this often.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenIdentity:
    token_id: int
    account: Account


# Unknown tokens are cached too (as None), so a flood of bad tokens does not reach the
# database; the cache's bound keeps that flood from growing it without limit.
_cache: ExpiringCache[TokenIdentity | None] = ExpiringCache(seconds=lambda: settings.TOKEN_CACHE_SECONDS)


def token_from_header(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() not in _SCHEMES or not value.startswith(TOKEN_PREFIX):
        return None
    return value


def _lookup(digest: str) -> TokenIdentity | None:
    token = ApiToken.objects.select_related("account").filter(digest=digest, revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return TokenIdentity(token_id=token.pk, account=token.account)


def identity_for_header(header: str | None) -> TokenIdentity:
    """Resolve an Authorization header to the caller's account, or raise NotAuthenticated."""
    plaintext = token_from_header(header)
    if plaintext is None:
        raise NotAuthenticated()
    digest = token_digest(plaintext)
    identity = _cache.get_or_load(digest, lambda: _lookup(digest))
    if identity is None:
        raise NotAuthenticated()
    return identity


async def aidentity_for_header(header: str | None) -> TokenIdentity:
    plaintext = token_from_header(header)
    if plaintext is None:
        raise NotAuthenticated()
    identity = _cache.get(token_digest(plaintext), None)
    if identity is not None:
        return identity
    return await sync_to_async(identity_for_header)(header)


class ApiTokenAuthentication(BaseAuthentication):
    """DRF authentication: `request.user` is the caller's Account, `request.auth` the identity."""

    def authenticate(self, request):
        identity = identity_for_header(request.META.get("HTTP_AUTHORIZATION"))
        return identity.account, identity

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document names `ApiTokenAuthentication`: an HTTP bearer token."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token, `r8_...`"}
