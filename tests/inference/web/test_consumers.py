"""The browser's websocket view of a prediction, with Channels' WebsocketCommunicator."""

import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import connections

from inference import events
from inference.models import Prediction
from inference.web.routing import websocket_urlpatterns

# serialized_rollback like every transactional test here: a flush that recreates the content
# types clashes with the snapshot a later serialized test loads.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
async def _close_connections_of_the_sync_thread():
    """asgiref runs sync code of async tests in a worker thread whose database connection
    would otherwise stay open and keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()


def communicator_for(user, prediction_id: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/predictions/{prediction_id}/")
    communicator.scope["user"] = user
    return communicator


@pytest.fixture
def prediction(alice, echo_version) -> Prediction:
    return Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)


def user(username: str):
    # Through database_sync_to_async, which gives the connection back afterwards.
    return get_user_model().objects.get(username=username)


async def test_the_owner_receives_every_event_in_order(prediction):
    await sync_to_async(events.publish)(prediction.id, "start", {})
    await sync_to_async(events.publish)(prediction.id, "logs", "loading\n")
    communicator = communicator_for(await database_sync_to_async(user)("alice"), prediction.id)
    connected, _ = await communicator.connect()
    assert connected
    start = await communicator.receive_json_from(timeout=5)
    assert (start["event"], start["data"]) == ("start", {})
    first = await communicator.receive_json_from(timeout=5)
    assert (first["event"], first["data"]) == ("logs", "loading\n")
    await sync_to_async(events.publish)(prediction.id, "output", "tok")
    assert (await communicator.receive_json_from(timeout=5))["data"] == "tok"
    await sync_to_async(events.publish_done)(prediction.id, {"status": "succeeded", "output": ["tok"]})
    done = await communicator.receive_json_from(timeout=5)
    assert done["event"] == "done" and done["data"]["status"] == "succeeded"
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"


async def test_a_cold_boot_reaches_the_page_with_the_time_of_each_entry(prediction):
    await sync_to_async(events.publish)(prediction.id, "start", {"booting": True})
    await sync_to_async(events.publish)(prediction.id, "running", {})
    communicator = communicator_for(await database_sync_to_async(user)("alice"), prediction.id)
    assert (await communicator.connect())[0]
    start = await communicator.receive_json_from(timeout=5)
    running = await communicator.receive_json_from(timeout=5)
    assert (start["event"], start["data"]) == ("start", {"booting": True})
    assert (running["event"], running["data"]) == ("running", {})
    # The page reads the server's time of each entry (ms) from the first part of its id.
    booted_at, ran_at = (int(entry["id"].split("-")[0]) for entry in (start, running))
    assert 0 <= ran_at - booted_at < 5_000 and abs(ran_at / 1000 - time.time()) < 60
    await communicator.disconnect()


async def test_another_tenant_is_refused_at_the_handshake(prediction, bob):
    communicator = communicator_for(await database_sync_to_async(user)("bob"), prediction.id)
    connected, _ = await communicator.connect()
    assert not connected


async def test_an_anonymous_browser_is_refused(prediction):

    from django.contrib.auth.models import AnonymousUser

    connected, _ = await communicator_for(AnonymousUser(), prediction.id).connect()
    assert not connected
