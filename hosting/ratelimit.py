"""Per-token rate limits, counted in Redis so every web process shares one count.

Fixed one-minute windows: one `INCR` and one `EXPIRE` sent together in a pipeline, a single
round trip per request. A fixed window lets a client burst up to twice the limit across a
window edge; Replicate states its limits per minute and the hot path stays one round trip.
Two scopes (replicate-api.md §9.1): `create` for prediction creation
(`RATE_LIMIT_CREATE_PER_MINUTE`), `api` for everything else (`RATE_LIMIT_API_PER_MINUTE`).
A limit of 0 turns the scope off.
"""

import math
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from hosting.problems import ApiProblem
from hosting.redis_clients import async_client, sync_client

WINDOW_SECONDS = 60
CREATE, API = "create", "api"


def limit_for(scope: str) -> int:
    return settings.RATE_LIMIT_CREATE_PER_MINUTE if scope == CREATE else settings.RATE_LIMIT_API_PER_MINUTE


def window_key(scope: str, token_id: int, now: float | None = None) -> tuple[str, float]:
    """The Redis key counting this window's requests, and the seconds until the window ends."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    return f"ratelimit:{scope}:{token_id}:{window}", (window + 1) * WINDOW_SECONDS - now


class RateLimited(ApiProblem):
    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            429,
            "Too many requests",
            f"Request was throttled. Expected available in {seconds} second{'s' if seconds != 1 else ''}.",
        )
        self.headers["Retry-After"] = str(seconds)


def _verdict(count: int, limit: int, retry_after: float) -> None:
    if count > limit:
        raise RateLimited(retry_after)


def check(scope: str, token_id: int) -> None:
    """Count one request of this token; raise `RateLimited` (429) past the scope's limit."""
    limit = limit_for(scope)
    if not limit:
        return
    key, retry_after = window_key(scope, token_id)
    pipe = sync_client().pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 5)
    count, _ = pipe.execute()
    _verdict(count, limit, retry_after)


async def acheck(scope: str, token_id: int) -> None:
    """`check` for async views, on the process's shared asyncio Redis client."""
    limit = limit_for(scope)
    if not limit:
        return
    key, retry_after = window_key(scope, token_id)
    pipe = async_client().pipeline(transaction=False)
    pipe.incr(key)  # a pipeline only queues commands: nothing to await until execute()
    pipe.expire(key, WINDOW_SECONDS + 5)
    count, _ = await pipe.execute()
    _verdict(count, limit, retry_after)


class TokenRateThrottle(BaseThrottle):
    """DRF throttle for the /v1 endpoints other than prediction creation (scope `api`).

    Runs after authentication; `request.auth` is the caller's token identity. Requests that
    carry no token (the schema and docs pages) are not counted."""

    def allow_request(self, request, view) -> bool:
        identity = request.auth
        if identity is not None and hasattr(identity, "token_id"):
            check(API, identity.token_id)
        return True
