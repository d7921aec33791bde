import json
import socket

import pytest

from hosting import outbound
from inference import webhooks
from inference.models import Prediction, WebhookDelivery
from tests.local_http import HostRecorder


def test_each_account_has_its_own_stable_secret(api, alice, bob):
    first = api.get("/v1/webhooks/default/secret", **alice.auth).json()["key"]
    assert first.startswith("whsec_") and first.count("_") == 1  # the Python client splits on "_"
    assert api.get("/v1/webhooks/default/secret", **alice.auth).json()["key"] == first
    assert api.get("/v1/webhooks/default/secret", **bob.auth).json()["key"] != first


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://192.168.1.10/x",
        "file:///etc/passwd",
        "http://",
        "not a url",
        "http://no-such-host.invalid/x",
    ],
)
def test_loopback_private_and_malformed_webhooks_are_refused_without_storing(api, alice, echo_version, url):
    response = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {}, "webhook": url}),
        content_type="application/json",
        **alice.auth,
    )
    assert response.status_code == 422
    assert response.json()["invalid_fields"][0]["field"] == "webhook"
    assert not Prediction.objects.exists()


def test_an_allow_list_lets_a_private_network_through(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert webhooks.refused_reason("http://127.0.0.1:8123/hook") is None
    assert webhooks.refused_reason("http://10.0.0.1/hook") is not None


@pytest.fixture
def receiver():
    receiver = HostRecorder()
    yield receiver
    receiver.close()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """hooks.example answers 127.0.0.1 the first time it is looked up, then 127.0.0.2 (where
    nothing listens, and which the allow-list refuses): a DNS-rebinding attacker's server."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example":
            address = "127.0.0.1" if not lookups else "127.0.0.2"
            lookups.append(address)
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def _prediction_with_webhook(api, alice, url: str) -> Prediction:
    response = api.post(
        "/v1/models/alice/echo/predictions",
        data=json.dumps({"input": {}, "webhook": url, "webhook_events_filter": ["completed"]}),
        content_type="application/json",
        **alice.auth,
    )
    assert response.status_code == 201, response.content
    return Prediction.objects.get()


def test_a_delivery_connects_to_the_address_it_checked_even_if_dns_now_answers_otherwise(
    api, alice, echo_version, settings, receiver, rebinding_dns
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    prediction = _prediction_with_webhook(api, alice, f"http://hooks.example:{receiver.port}/hook")
    rebinding_dns.clear()  # creation looked it up; the delivery's own check is the first lookup now

    assert webhooks.deliver(prediction=prediction, event="completed", body={}, message_id="msg_1", attempt=1)
    # One lookup, and the POST reached the address it gave, with the URL's own Host header:
    # looked up again, hooks.example would have sent the connection to 127.0.0.2.
    assert rebinding_dns == ["127.0.0.1"]
    assert receiver.hosts == [f"hooks.example:{receiver.port}"]
    assert WebhookDelivery.objects.get().status_code == 204


def test_a_delivery_is_refused_when_the_host_now_resolves_to_a_refused_address(
    api, alice, echo_version, settings, receiver, rebinding_dns
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    prediction = _prediction_with_webhook(api, alice, f"http://hooks.example:{receiver.port}/hook")
    assert rebinding_dns == ["127.0.0.1"]  # the check at creation passed

    assert not webhooks.deliver(prediction=prediction, event="completed", body={}, message_id="msg_1", attempt=1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.error == "Not delivered: the URL resolves to a private, loopback or link-local address."
    assert receiver.hosts == []


def test_https_deliveries_keep_the_host_name_for_sni_and_the_certificate_check(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))],
    )
    with outbound.new_client() as client:
        addresses = outbound.vetted_addresses("https://hooks.example:8443/a?b=1", allowed_networks=[])
        request = outbound.pinned_request(client, "POST", "https://hooks.example:8443/a?b=1", addresses[0])
    assert str(request.url) == "https://93.184.215.14:8443/a?b=1"
    assert request.headers["Host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"  # httpcore verifies the certificate for it
