"""When Redis or PostgreSQL drops out from under the web process, /v1 answers a 503 problem
with Retry-After (never a 500 or an HTML page), loses nothing it already made, and answers
again as soon as the dependency is back."""

import pytest
import redis.asyncio

from hosting import redis_clients
from inference import events
from inference.api import streaming
from inference.models import Model, Prediction
from tests.database_faults import terminate_this_connection

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every connect is refused


def _dead_async_client() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(DEAD_REDIS, decode_responses=True)


def _is_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "1"
    assert response.json()["title"] == "Service unavailable"


@pytest.fixture
def redis_down(settings):
    """The whole process's Redis (rate limits, event streams) unreachable."""
    settings.REDIS_URL = DEAD_REDIS
    redis_clients.sync_client.cache_clear()
    redis_clients._async_clients.clear()
    yield
    redis_clients.sync_client.cache_clear()
    redis_clients._async_clients.clear()


def test_with_redis_down_reads_and_creates_are_a_503_problem_and_nothing_is_made(api, alice, echo_version, redis_down):
    _is_unavailable(api.get("/v1/predictions", **alice.auth))
    created = api.post(
        "/v1/predictions", {"version": echo_version.sha256, "input": {}}, content_type="application/json", **alice.auth
    )
    _is_unavailable(created)
    assert not Prediction.objects.exists()


def test_a_wait_whose_redis_breaks_answers_the_prediction_it_made(api, alice, echo_version, monkeypatch):
    monkeypatch.setattr(events, "async_client", _dead_async_client)  # the stream the wait reads
    response = api.post(
        "/v1/models/alice/echo/predictions",
        {"input": {"text": "hi"}},
        content_type="application/json",
        HTTP_PREFER="wait=5",
        **alice.auth,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "starting" and Prediction.objects.filter(pk=body["id"]).exists()


async def test_a_stream_whose_redis_breaks_ends_with_an_error_event_instead_of_hanging(monkeypatch):
    monkeypatch.setattr(events, "async_client", _dead_async_client)
    monkeypatch.setattr(streaming, "RESUME_SECONDS", 1.0)
    running = Prediction(id="abcdefghijklmnopqrstuvwxyz", status="processing")
    frames = [frame async for frame in streaming.event_stream(running, "0-0")]
    assert frames[0] == ": stream open\n\n" and ": reconnecting\n\n" in frames
    assert frames[-1].startswith("event: error\n") and "reconnect with Last-Event-ID" in frames[-1]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_read_whose_database_connection_died_is_tried_again_on_a_new_one(api, alice):
    assert api.get("/v1/predictions", **alice.auth).status_code == 200
    terminate_this_connection()
    assert api.get("/v1/predictions", **alice.auth).status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_write_whose_database_connection_died_is_a_503_then_the_next_request_works(api, alice, cpu):
    assert api.get("/v1/predictions", **alice.auth).status_code == 200
    terminate_this_connection()
    body = {"owner": "alice", "name": "fresh", "visibility": "private", "hardware": "cpu"}
    _is_unavailable(api.post("/v1/models", data=body, content_type="application/json", **alice.auth))
    assert api.get("/v1/predictions", **alice.auth).status_code == 200
    assert not Model.objects.filter(name="fresh").exists()
