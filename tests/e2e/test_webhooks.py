"""Webhooks delivered to a real local HTTP receiver, checked with the client's own validator."""

import itertools
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.db import connections

from inference.models import WebhookDelivery

pytestmark = pytest.mark.e2e


class Receiver:
    """Records every POST; `fail[path] = n` answers the first n with 500."""

    def __init__(self) -> None:
        self.requests: dict[str, list[dict]] = defaultdict(list)
        self.fail: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.requests[self.path].append(
                    {"headers": dict(self.headers), "body": body, "at": time.monotonic()}
                )
                failing = receiver.fail.get(self.path, 0) > 0
                if failing:
                    receiver.fail[self.path] -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def events(self, path: str) -> list[str]:
        return [json.loads(r["body"])["status"] for r in self.requests[path]]

    def wait_for_status(self, path: str, status: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while status not in self.events(path):
            assert time.monotonic() < deadline, f"no {status} webhook at {path}: {self.events(path)}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def test_every_delivery_is_signed_and_carries_the_prediction(platform, receiver):
    import replicate

    client = platform.client()
    prediction = client.predictions.create(
        version=platform.versions["tokens"], input={"text": "w1 w2 w3 w4", "delay": 0.3}, webhook=receiver.url("/all")
    )
    receiver.wait_for_status("/all", "succeeded")
    secret = client.webhooks.default.secret()
    assert secret.key.startswith("whsec_")
    for request in receiver.requests["/all"]:
        replicate.webhooks.validate(headers=request["headers"], body=request["body"], secret=secret, tolerance=300)
    statuses = receiver.events("/all")
    assert statuses[0] == "processing" and statuses[-1] == "succeeded"
    assert any(json.loads(r["body"])["output"] for r in receiver.requests["/all"][1:-1])  # output events
    final = httpx.get(prediction.urls["get"], headers={"Authorization": f"Bearer {platform.alice.plaintext}"})
    assert json.loads(receiver.requests["/all"][-1]["body"]) == final.json()


def test_the_filter_limits_the_events(platform, receiver):
    platform.client().predictions.create(
        version=platform.versions["tokens"],
        input={"text": "a b c", "delay": 0.3},
        webhook=receiver.url("/completed"),
        webhook_events_filter=["completed"],
    )
    receiver.wait_for_status("/completed", "succeeded")
    time.sleep(0.5)
    assert receiver.events("/completed") == ["succeeded"]


def test_output_deliveries_are_throttled_to_one_per_half_second(platform, receiver):
    platform.client().predictions.create(
        version=platform.versions["tokens"],
        input={"text": " ".join(f"t{i}" for i in range(20)), "delay": 0.05},
        webhook=receiver.url("/throttle"),
        webhook_events_filter=["output"],
    )
    time.sleep(2.5)
    times = [r["at"] for r in receiver.requests["/throttle"]]
    assert 1 <= len(times) <= 4  # 20 tokens over ~1 s
    assert all(later - earlier >= 0.4 for earlier, later in itertools.pairwise(times))


def test_completed_is_retried_with_the_same_id_after_failures(platform, receiver, django_db_blocker):
    receiver.fail["/flaky"] = 2
    prediction = platform.client().predictions.create(
        version=platform.versions["echo"],
        input={"text": "retry"},
        webhook=receiver.url("/flaky"),
        webhook_events_filter=["completed"],
    )
    deadline = time.monotonic() + 20
    while len(receiver.requests["/flaky"]) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ids = {r["headers"]["webhook-id"] for r in receiver.requests["/flaky"]}
    assert len(ids) == 1
    # The worker records an attempt once the receiver has answered: wait for the third row.
    with django_db_blocker.unblock():
        deliveries = WebhookDelivery.objects.filter(prediction_id=prediction.id)
        while deliveries.count() < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        attempts = list(deliveries.values_list("attempt", "status_code"))
        connections.close_all()
    assert attempts == [(1, 500), (2, 500), (3, 200)]


@pytest.mark.parametrize("url", ["http://10.1.2.3/hook", "ftp://127.0.0.1/hook", "http://169.254.169.254/latest"])
def test_private_or_non_http_urls_are_refused_at_creation(platform, url):
    response = httpx.post(
        f"{platform.url}/v1/predictions",
        json={"version": platform.versions["echo"], "input": {}, "webhook": url},
        headers={"Authorization": f"Bearer {platform.alice.plaintext}"},
    )
    assert response.status_code == 422
    assert response.json()["invalid_fields"][0]["field"] == "webhook"
