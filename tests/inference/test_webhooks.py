import json

import pytest

from inference import webhooks
from inference.models import Prediction


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
