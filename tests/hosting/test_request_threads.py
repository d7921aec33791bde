"""Requests borrow their sync thread from a pool instead of starting one each (hosting.request_threads)."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.core.signals import request_started

from hosting.asgi import application
from hosting.request_threads import ExecutorPool, ReusedRequestThreads


@pytest.fixture
def sync_threads_of_requests():
    """The thread each request's sync code (Django's request_started receivers) ran on."""
    seen: list[int] = []

    def record(**kwargs) -> None:
        seen.append(threading.get_ident())

    request_started.connect(record)
    yield seen
    request_started.disconnect(record)


async def _get(path: str) -> dict:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost")])
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)  # the request ends after its response: response.close() and the like
    return response


async def test_one_request_after_another_reuses_the_same_thread(sync_threads_of_requests):
    for path in ("/v1/predictions", "/v1/predictions", "/login"):
        response = await _get(path)
        assert response["status"] in (200, 401)
    api_first, api_second, _web = sync_threads_of_requests
    assert api_first == api_second


async def test_requests_at_the_same_time_each_have_a_thread_of_their_own(sync_threads_of_requests):
    # Each request's sync code waits for the other's: on one shared thread they would deadlock.
    both_started = threading.Barrier(2, timeout=5)
    request_started.connect(wait := lambda **kwargs: both_started.wait())
    try:
        responses = await asyncio.gather(_get("/v1/predictions"), _get("/v1/predictions"))
    finally:
        request_started.disconnect(wait)
    assert [response["status"] for response in responses] == [401, 401]
    assert len(set(sync_threads_of_requests)) == 2


class _Failing:
    async def __call__(self, scope, receive, send):
        await sync_to_async(lambda: None)()
        raise asyncio.CancelledError


class _RecordingPool(ExecutorPool):
    def take(self):
        self.lent = super().take()
        return self.lent


class _FailingHandler(ReusedRequestThreads, _Failing):
    executor_pool = _RecordingPool()


async def test_a_request_that_ends_in_an_exception_gives_no_thread_back():
    with pytest.raises(asyncio.CancelledError):
        await _FailingHandler()({"type": "http"}, None, None)
    assert _FailingHandler.executor_pool.idle == 0
    with pytest.raises(RuntimeError, match="shutdown"):  # its thread ends once its work is done
        _FailingHandler.executor_pool.lent.submit(lambda: None)


def test_the_pool_keeps_at_most_max_idle_and_shuts_the_rest_down():
    pool = ExecutorPool(max_idle=1)
    first, second = pool.take(), pool.take()
    assert first is not second
    pool.give_back(first)
    pool.give_back(second)
    assert pool.idle == 1 and pool.take() is first
    with pytest.raises(RuntimeError, match="shutdown"):
        second.submit(lambda: None)
