"""One Redis client per process (and per event loop for asyncio), shared by everything.

redis-py cuts reads at its socket timeout, so `XREAD BLOCK` callers block in slices shorter
than that (see inference.events).
"""

import asyncio
import weakref
from functools import cache

import redis
import redis.asyncio
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff


@cache
def sync_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True, health_check_interval=30)


# An asyncio client is bound to the loop that made it; Daphne has one loop, tests have many.
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]" = (
    weakref.WeakKeyDictionary()
)


def async_client() -> redis.asyncio.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # The web side's reads (XREAD, EXISTS, the rate-limit counters) are safe to send twice:
        # a connection dropped under one (a Redis restarted, a proxy's idle cut) is retried on a
        # new connection. The worker's sync client does not retry: an XADD sent twice would
        # stream a token twice.
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL,
            decode_responses=True,
            health_check_interval=30,
            retry=AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
        )
        _async_clients[loop] = client
    return client
