"""API token authentication for the /v1 API, shared by DRF views and plain async views.

A token lookup is one indexed query on the digest. Results are cached per process for
`TOKEN_CACHE_SECONDS`, so a revoked token stops working within that many seconds.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from accounts.models import TOKEN_PREFIX, Account, ApiToken, token_digest
from hosting.problems import NotAuthenticated

_SCHEMES = ("bearer", "token")
# last_used_at is a hint for people, not an audit log: refresh it at most this often.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenIdentity:
    token_id: int
    account: Account


_cache: dict[str, tuple[float, TokenIdentity | None]] = {}
# Unknown tokens are cached too (so a flood of bad tokens does not reach the database);
# the bound keeps that flood from growing the cache without limit.
_CACHE_MAX_ENTRIES = 10_000


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
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[0] > now:
        identity = cached[1]
    else:
        identity = _lookup(digest)
        if settings.TOKEN_CACHE_SECONDS:
            if len(_cache) >= _CACHE_MAX_ENTRIES:
                _cache.clear()
            _cache[digest] = (now + settings.TOKEN_CACHE_SECONDS, identity)
    if identity is None:
        raise NotAuthenticated()
    return identity


async def aidentity_for_header(header: str | None) -> TokenIdentity:
    plaintext = token_from_header(header)
    if plaintext is None:
        raise NotAuthenticated()
    cached = _cache.get(token_digest(plaintext))
    if cached is not None and cached[0] > time.monotonic() and cached[1] is not None:
        return cached[1]
    return await sync_to_async(identity_for_header)(header)


class ApiTokenAuthentication(BaseAuthentication):
    """DRF authentication: `request.user` is the caller's Account, `request.auth` the identity."""

    def authenticate(self, request):
        identity = identity_for_header(request.META.get("HTTP_AUTHORIZATION"))
        return identity.account, identity

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
