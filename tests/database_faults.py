"""Terminating PostgreSQL backends from another session, as a PostgreSQL restart, a failover or an
operator's pg_terminate_backend would: the tests of what survives a dead database connection."""

import psycopg
from django.db import connection


def terminate_backends(pids: list[int]) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])


def terminate_this_connection() -> None:
    """The backend of this thread's Django connection (opened first if need be)."""
    connection.ensure_connection()
    terminate_backends([connection.connection.info.backend_pid])
