"""Database connections held by async views.

An async view's sync calls (`sync_to_async`, the async ORM) run in the request's own thread, and
that thread's connection goes back to the pool only when the request finishes. A request that
then waits on something else (a stream for minutes, `Prefer: wait` for up to a minute) gives it
back first: nine such requests held all eight of a web process's pooled connections, and every
other request waited 10 s for one (tests/chaos).
"""

from asgiref.sync import sync_to_async
from django.db import connection


async def give_back_connection() -> None:
    """Return this request's connection to the pool now; it gets another if it queries again."""
    await sync_to_async(_give_back)()


def _give_back() -> None:
    if not connection.in_atomic_block:  # a transaction still open (a test's) keeps its connection
        connection.close()
