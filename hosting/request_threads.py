"""Threads for the sync part of each ASGI request, kept between requests.

Django's ASGIHandler gives every request a thread of its own for its sync code (signal
receivers such as close_old_connections, `sync_to_async` ORM calls, sync views): a new
single-worker ThreadPoolExecutor per request, whose thread starts on the first call and is
joined by yet another new thread when the request ends. asgiref lets the caller supply the
executor instead and leaves its lifetime to the caller (`ThreadSensitiveContext(executor=...)`,
asgiref >= 3.13), so each request here borrows one from a pool and gives it back.

Each request still has one thread to itself for as long as it runs, so thread-sensitive code
sees what it saw before: its database connection is closed (given back to the connection
pool) by request_finished, as before. What a reused thread saves is starting and joining two
threads per request, and the set-up that libraries redo in each new thread (Celery's
`apply_async` took 0.83 ms from a new thread, 0.49 ms from one it had run in before). On a
2-core machine the web process's CPU per echo prediction went from 5.8-6.6 ms to 4.7-5.2 ms.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from asgiref.sync import ThreadSensitiveContext

if TYPE_CHECKING:
    # What the mixin goes in front of, so that its super().__call__ type-checks.
    from django.core.handlers.asgi import ASGIHandler as _MixedInto
else:
    _MixedInto = object

# More requests than this at once start threads of their own; the pool keeps this many.
MAX_IDLE_THREADS = 64


class ExecutorPool:
    """Single-thread executors, lent to one request at a time. Used from the event loop's
    thread only, so it needs no lock."""

    def __init__(self, max_idle: int = MAX_IDLE_THREADS) -> None:
        self._idle: list[ThreadPoolExecutor] = []
        self._max_idle = max_idle

    def take(self) -> ThreadPoolExecutor:
        return self._idle.pop() if self._idle else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < self._max_idle:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)  # its thread ends after any work it still has

    @property
    def idle(self) -> int:
        return len(self._idle)


class ReusedRequestThreads(_MixedInto):
    """Mixin for an ASGIHandler: each request runs in a context whose thread comes from
    `executor_pool`. Django's own ThreadSensitiveContext, entered inside this one, then
    reuses it rather than making a thread."""

    executor_pool = ExecutorPool()

    async def __call__(self, scope, receive, send):
        executor = self.executor_pool.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await super().__call__(scope, receive, send)
        except BaseException:
            # Cancelled or failed mid-request: sync work may still be running on the thread,
            # so no later request gets it.
            executor.shutdown(wait=False)
            raise
        # handle() awaited the request's last sync call (response.close, or request_finished
        # after a disconnect), which ran after all the request's earlier ones: none is left.
        self.executor_pool.give_back(executor)
