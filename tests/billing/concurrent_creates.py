"""Many prediction creations for one account at the same instant, each in a thread with its own
database connection, as concurrent web requests would be."""

import threading

from django.db import connections

from hosting.problems import ApiProblem
from inference import services


def create_all_at_once(*, account, version, count: int = 50) -> tuple[int, list[ApiProblem]]:
    """How many creations succeeded, and the problems the others were refused with."""
    created: list[object] = []
    refused: list[ApiProblem] = []
    start = threading.Barrier(count)

    def create() -> None:
        try:
            start.wait()
            created.append(services.prediction_create(account=account, version=version, input={}))
        except ApiProblem as problem:
            refused.append(problem)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(created), refused
