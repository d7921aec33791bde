"""After PostgreSQL drops every connection (a restart, a failover, terminated backends), /v1
answers one 503 and then works: the first dead connection found makes the pool check the others,
instead of each one answering a 503 whenever a request comes to use it."""

import threading
import time

import pytest
from django.db import connection

from tests.database_faults import terminate_backends

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _wait_for_the_pool_check() -> None:
    deadline = time.monotonic() + 10
    while any(thread.name == "database-pool-check" for thread in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_one_dead_connection_found_drops_the_others_from_the_pool(api, alice):
    connection.close()  # the test's own connection goes back to the pool
    pool = connection.pool
    held = [pool.getconn() for _ in range(pool.max_size)]  # every connection it has or may make
    pids = [held_connection.info.backend_pid for held_connection in held]
    for held_connection in held:
        pool.putconn(held_connection)
    terminate_backends(pids)

    first = api.get("/v1/predictions", **alice.auth)
    assert first.status_code == 503 and first["Content-Type"] == "application/problem+json"
    _wait_for_the_pool_check()
    statuses = [api.get("/v1/predictions", **alice.auth).status_code for _ in range(pool.max_size)]
    assert statuses == [200] * pool.max_size
