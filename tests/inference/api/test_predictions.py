"""The /v1 API in-process: shapes, errors, pagination and tenant isolation.

The worker is not running here; end-to-end behaviour is in tests/e2e.
"""

import json
import time

import pytest

from accounts import authentication
from inference import services
from inference.api.predictions import wait_seconds
from inference.models import Prediction

UNAUTHENTICATED = {
    "title": "Unauthenticated",
    "detail": "You did not pass a valid authentication token",
    "status": 401,
}


def post_json(api, path, body, persona, **headers):
    return api.post(path, data=json.dumps(body), content_type="application/json", **persona.auth, **headers)


def create_prediction(api, persona, text="hi"):
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {"text": text}}, persona)
    assert response.status_code == 201, response.content
    return response.json()


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header_case",
    [None, "Bearer", "Bearer r8_notarealtoken", "Basic dXNlcjpwYXNz", "Bearer sk-wrongprefix"],
)
def test_it_refuses_missing_or_invalid_tokens_with_problem_json(api, echo_version, header_case):
    headers = {"HTTP_AUTHORIZATION": header_case} if header_case else {}
    for response in (
        api.get("/v1/account", **headers),
        api.get("/v1/models/alice/echo", **headers),
        api.post("/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **headers),
    ):
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response.json() == UNAUTHENTICATED


def test_it_accepts_the_token_scheme_too(api, alice):
    response = api.get("/v1/account", HTTP_AUTHORIZATION=f"Token {alice.plaintext}")
    assert response.json()["username"] == "alice"


def test_a_revoked_token_stops_working(api, alice):
    from accounts.services import token_revoke

    assert api.get("/v1/account", **alice.auth).status_code == 200
    token_revoke(token=alice.token)
    authentication._cache.clear()  # what TOKEN_CACHE_SECONDS does on its own, within seconds
    assert api.get("/v1/account", **alice.auth).status_code == 401


def test_tokens_are_stored_as_digests_only(alice):
    alice.token.refresh_from_db()
    assert alice.plaintext.startswith("r8_") and len(alice.plaintext) == 40
    assert alice.plaintext not in (alice.token.prefix, alice.token.digest)
    assert alice.token.last_used_at is None


# --- creating predictions ----------------------------------------------------------------------


def test_it_creates_a_prediction_for_a_model(api, alice, echo_version, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        body = create_prediction(api, alice)
    assert len(callbacks) == 1  # the task is queued after commit
    assert body["status"] == "starting"
    assert body["model"] == "alice/echo"
    assert body["version"] == echo_version.sha256
    assert body["input"] == {"text": "hi"}
    assert body["urls"]["get"] == f"http://testserver/v1/predictions/{body['id']}"
    assert body["urls"]["cancel"].endswith(f"/v1/predictions/{body['id']}/cancel")
    assert len(body["id"]) == 26 and body["id"].isalnum() and body["id"].islower()
    assert Prediction.objects.get(id=body["id"]).account == alice.account


def test_it_creates_a_prediction_for_a_version_id(api, alice, echo_version):
    response = post_json(api, "/v1/predictions", {"version": echo_version.sha256, "input": {}}, alice)
    assert response.status_code == 201
    assert response.json()["version"] == echo_version.sha256


def test_a_missing_input_counts_as_empty(api, alice, echo_version):
    response = post_json(api, "/v1/predictions", {"version": echo_version.sha256}, alice)
    assert response.status_code == 201
    assert response.json()["input"] == {}


def test_invalid_input_is_422_with_the_field_at_fault(api, alice, echo_version):
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {"text": 42}}, alice)
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "Input validation failed"
    assert [f["field"] for f in body["invalid_fields"]] == ["input.text"]
    assert not Prediction.objects.exists()


def test_an_unknown_input_key_is_422_naming_it_and_nothing_is_created(api, alice, echo_version):
    # The hosted service refuses it (cog 0.23.1 alone would drop it and run): a typo must not
    # run the prediction with a default and bill for it.
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {"text": "hi", "txet": "x"}}, alice)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = response.json()["invalid_fields"]
    assert [f["field"] for f in fields] == ["input.txet"]
    assert "txet" in fields[0]["description"] and "text" in fields[0]["description"]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("body_case", "payload"),
    [("not_json", b"{nope"), ("a_list", b"[1, 2]"), ("a_string", b'"hello"'), ("bad_utf8", b"\xff\xfe")],
)
def test_a_malformed_body_is_a_400_problem(api, alice, echo_version, body_case, payload):
    response = api.post(
        "/v1/models/alice/echo/predictions", data=payload, content_type="application/json", **alice.auth
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["invalid_fields"][0]["field"] == "body"
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("path", ["/v1/models/alice/echo/predictions", "/v1/predictions"])
@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("Infinity", "Infinity is not a JSON number (JSON has no Infinity or NaN)"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("NaN", "NaN is not a JSON number"),
        ("1e400", "number out of range: 1e400 is larger than any number"),
        ("1" * 5000, "not valid JSON: Exceeds the limit"),  # Python's int limit: was a 500
    ],
)
def test_a_number_json_cannot_hold_is_a_400_that_says_so(api, alice, echo_version, path, number, says):
    body = f'{{"version": "{echo_version.sha256}", "input": {{"text": "hi", "delay": {number}}}}}'
    response = api.post(path, data=body, content_type="application/json", **alice.auth)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert says in problem["detail"] and "not number" not in problem["detail"]
    assert problem["invalid_fields"][0]["field"] == "body"
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("webhook", 12), ("webhook_events_filter", ["everything"]), ("webhook_events_filter", "start")],
)
def test_bad_webhook_fields_are_refused(api, alice, echo_version, field, value):
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {}, field: value}, alice)
    assert response.status_code == 400
    assert response.json()["invalid_fields"][0]["field"] == field


def test_an_unknown_version_is_422(api, alice, echo_version):
    response = post_json(api, "/v1/predictions", {"version": "f" * 64, "input": {}}, alice)
    assert response.status_code == 422
    assert response.json()["title"] == "Invalid version or not permitted"


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [
        (None, None),
        ("wait", 60),
        ("wait=5", 5),
        ("wait=600", 60),
        ("wait=0", None),
        ("respond-async", None),
        ("respond-async, wait=3", 3),
        ("wait=abc", None),
    ],
)
def test_prefer_wait_is_parsed_and_clamped(prefer, expected):
    assert wait_seconds(prefer) == expected


def test_prefer_wait_that_runs_out_answers_starting(api, alice, echo_version):
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {}}, alice, HTTP_PREFER="wait=1")
    assert response.status_code == 201
    assert response["Preference-Applied"] == "wait=1"
    assert response.json()["status"] == "starting"


def test_prefer_wait_counts_from_the_requests_arrival(api, alice, echo_version, monkeypatch):
    """The client gives up reading after 60.5 s: time spent creating comes out of the wait."""
    real_create = services.prediction_create

    def slow_create(**kwargs):
        time.sleep(1.5)  # a busy database, a slow DNS look-up for a file input
        return real_create(**kwargs)

    monkeypatch.setattr(services, "prediction_create", slow_create)
    started = time.monotonic()
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {}}, alice, HTTP_PREFER="wait=2")
    elapsed = time.monotonic() - started
    assert response.status_code == 201 and response.json()["status"] == "starting"
    assert 1.5 <= elapsed < 3.0  # not 1.5 s of creating plus the whole 2 s of waiting


# --- reading, listing, cancelling -------------------------------------------------------------


def test_it_gets_a_prediction(api, alice, echo_version):
    created = create_prediction(api, alice)
    response = api.get(f"/v1/predictions/{created['id']}", **alice.auth)
    assert response.status_code == 200
    assert response.json() == {**created, "status": "starting"}


def test_it_lists_predictions_newest_first_with_absolute_cursors(api, alice, echo_version, settings):
    settings.PREDICTIONS_PAGE_SIZE = 2
    created = [create_prediction(api, alice, text=str(i))["id"] for i in range(5)]
    seen, url = [], "/v1/predictions"
    while url:
        page = api.get(url, **alice.auth).json()
        seen += [p["id"] for p in page["results"]]
        url = page["next"]
        if url:
            assert url.startswith("http://testserver/v1/predictions?cursor=")
    assert seen == created[::-1]


def test_a_garbled_cursor_is_a_400(api, alice):
    response = api.get("/v1/predictions?cursor=!!!", **alice.auth)
    assert response.status_code == 400
    assert response.json()["invalid_fields"][0]["field"] == "cursor"


def test_cancelling_a_queued_prediction_cancels_it_at_once(api, alice, echo_version):
    created = create_prediction(api, alice)
    response = api.post(f"/v1/predictions/{created['id']}/cancel", **alice.auth)
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["completed_at"] is not None
    assert Prediction.objects.get(id=created["id"]).status == "canceled"


def test_it_gets_models_versions_account_and_hardware(api, alice, echo_version):
    model = api.get("/v1/models/alice/echo", **alice.auth).json()
    assert (model["owner"], model["name"], model["visibility"], model["run_count"]) == ("alice", "echo", "private", 0)
    assert model["latest_version"]["id"] == echo_version.sha256
    versions = api.get("/v1/models/alice/echo/versions", **alice.auth).json()
    assert [v["id"] for v in versions["results"]] == [echo_version.sha256]
    version = api.get(f"/v1/models/alice/echo/versions/{echo_version.sha256}", **alice.auth).json()
    assert version["openapi_schema"]["components"]["schemas"]["Output"] == {"type": "string", "title": "Output"}
    assert version["cog_version"] == "0.23.1"
    assert api.get("/v1/account", **alice.auth).json() == {
        "type": "user",
        "username": "alice",
        "name": "alice",
        "github_url": None,
    }
    hardware = api.get("/v1/hardware", **alice.auth).json()
    assert {"sku": "cpu", "name": "CPU"} in hardware and {"sku": "gpu-h100", "name": "Nvidia H100 GPU"} in hardware


def test_unknown_endpoints_are_problem_404s(api, alice):
    response = api.get("/v1/nothing/here", **alice.auth)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


# --- tenant isolation -------------------------------------------------------------------------


def test_another_tenant_cannot_see_or_use_a_private_model(api, alice, bob, echo_version):
    sha = echo_version.sha256
    for path in ("/v1/models/alice/echo", "/v1/models/alice/echo/versions", f"/v1/models/alice/echo/versions/{sha}"):
        response = api.get(path, **bob.auth)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/problem+json"
    assert post_json(api, "/v1/models/alice/echo/predictions", {"input": {}}, bob).status_code == 404
    assert post_json(api, "/v1/predictions", {"version": sha, "input": {}}, bob).status_code == 422
    assert not Prediction.objects.exists()


def test_another_tenant_cannot_see_list_or_cancel_a_prediction(api, alice, bob, echo_version):
    created = create_prediction(api, alice)
    assert api.get(f"/v1/predictions/{created['id']}", **bob.auth).status_code == 404
    assert api.post(f"/v1/predictions/{created['id']}/cancel", **bob.auth).status_code == 404
    assert api.get("/v1/predictions", **bob.auth).json()["results"] == []
    assert Prediction.objects.get(id=created["id"]).status == "starting"


def test_a_public_model_can_be_run_by_another_tenant(api, alice, bob, echo_version):
    echo_version.model.visibility = "public"
    echo_version.model.save()
    response = post_json(api, "/v1/models/alice/echo/predictions", {"input": {}}, bob)
    assert response.status_code == 201
    assert Prediction.objects.get(id=response.json()["id"]).account == bob.account
    assert api.get(f"/v1/predictions/{response.json()['id']}", **alice.auth).status_code == 404


def test_a_version_shared_by_two_models_resolves_by_model_ref_or_to_the_first(api, alice, echo_version, cpu):
    from inference.models import Model, Version

    twin_model = Model.objects.create(owner=alice.account, name="twin", hardware=cpu)
    Version.objects.create(
        model=twin_model,
        sha256=echo_version.sha256,
        predictor_ref="predict.py:Predictor",
        openapi_schema=echo_version.openapi_schema,
        cog_version="0.23.1",
        package="p.tar.gz",
    )
    bare = post_json(api, "/v1/predictions", {"version": echo_version.sha256, "input": {}}, alice)
    assert bare.json()["model"] == "alice/echo"
    pinned = post_json(api, "/v1/predictions", {"version": f"alice/twin:{echo_version.sha256}", "input": {}}, alice)
    assert pinned.json()["model"] == "alice/twin"
    wrong = post_json(api, "/v1/predictions", {"version": f"alice/nope:{echo_version.sha256}", "input": {}}, alice)
    assert wrong.status_code == 422


def test_a_cached_model_still_checks_who_may_run_it(api, alice, bob, echo_version):
    assert create_prediction(api, alice)["model"] == "alice/echo"  # now cached in this process
    assert post_json(api, "/v1/models/alice/echo/predictions", {"input": {}}, bob).status_code == 404
    assert Prediction.objects.filter(account=bob.account).count() == 0


def test_a_cached_version_still_checks_who_may_run_it(api, alice, bob, echo_version):
    version = {"version": echo_version.sha256, "input": {}}
    assert post_json(api, "/v1/predictions", version, alice).status_code == 201  # now cached in this process
    assert post_json(api, "/v1/predictions", version, bob).status_code == 422
    assert Prediction.objects.filter(account=bob.account).count() == 0
