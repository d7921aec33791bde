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
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, decode_responses=True)
        _async_clients[loop] = client
    return client
