"""The opt-in prediction cache (`Prefer: cache`, inference/prediction_cache.py): a hit is a new
prediction, succeeded at once with the earlier output and not billed; everything else misses."""

import base64
import json
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from inference import prediction_cache, selectors
from inference.models import File, Model, Prediction
from inference.runtime.validation import InputValidator
from tests.conftest import another_version

CACHE = {"HTTP_PREFER": "cache"}


def post(api, persona, body, *, path="/v1/models/alice/echo/predictions", **headers):
    return api.post(path, data=json.dumps(body), content_type="application/json", **persona.auth, **headers)


def run_to_success(prediction_id: str, output) -> None:
    """What the worker does when a prediction made with a cache key succeeds (execution._finish)."""
    Prediction.objects.filter(pk=prediction_id).update(status="succeeded", output=output, metrics={"predict_time": 2.5})
    prediction = Prediction.objects.get(pk=prediction_id)
    assert prediction.cache_key, "made without a cache key"
    prediction_cache.remember(prediction.id, prediction.cache_key)


@pytest.fixture
def cached_echo(echo_version):
    Model.objects.filter(pk=echo_version.model_id).update(cache_policy="deterministic")
    echo_version.model.refresh_from_db()
    return echo_version


@pytest.fixture
def earlier(api, alice, cached_echo):
    first = post(api, alice, {"input": {"text": "hi"}}, **CACHE)
    assert first.status_code == 201 and first.json()["status"] == "starting"
    run_to_success(first.json()["id"], "hi!")
    return first.json()["id"]


def test_the_same_input_again_is_answered_from_the_cache_and_not_billed(api, alice, earlier):
    response = post(api, alice, {"input": {"text": "hi"}}, **CACHE)

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != earlier and body["status"] == "succeeded" and body["output"] == "hi!"
    assert body["metrics"] == {"cached": True, "predict_time": 0, "cached_predict_time": 2.5}
    assert "cache" in response["Preference-Applied"]
    hit = Prediction.objects.get(pk=body["id"])
    assert hit.cached_from_id == earlier and hit.account == alice.account
    assert hit.started_at is not None and hit.completed_at is not None
    record = UsageRecord.objects.get(prediction=hit)
    assert (record.seconds, record.amount) == (0, 0)  # billed nothing
    assert record.saved_seconds == Decimal("2.500") and record.saved_amount == 2500 * record.price_per_second / 1000
    assert api.get(f"/v1/predictions/{hit.id}", **alice.auth).json()["output"] == "hi!"
    usage = api.get("/v1/account/usage", **alice.auth).json()
    assert usage["saved_by_cache"] == {"predictions": 1, "seconds": "2.500", "amount": str(record.saved_amount)}
    assert usage["month_to_date_spend"] == "0.000000"  # the earlier one was never billed here either


def test_the_usage_page_shows_what_the_cache_saved(api, client, alice, earlier):
    from tests.inference.web.test_views import logged_in

    page = logged_in(client, "alice").get("/account/usage").content.decode()
    assert 'data-testid="saved-by-cache"' not in page  # nothing answered from it yet
    post(api, alice, {"input": {"text": "hi"}}, **CACHE)
    page = client.get("/account/usage").content.decode()
    assert 'data-testid="saved-by-cache"' in page and "1 prediction answered from the cache, 2.5 s" in page


def test_a_hit_with_prefer_wait_answers_at_once(api, alice, earlier):
    response = post(api, alice, {"input": {"text": "hi"}}, HTTP_PREFER="wait=60, cache")
    assert response.json()["status"] == "succeeded"
    assert response["Preference-Applied"] == "wait=60, cache"


@pytest.mark.parametrize(
    ("case", "body", "headers"),
    [
        ("without Prefer: cache", {"input": {"text": "hi"}}, {}),
        ("another input", {"input": {"text": "ho"}}, CACHE),
    ],
)
def test_a_miss_runs(api, alice, earlier, case, body, headers):
    response = post(api, alice, body, **headers)
    assert response.json()["status"] == "starting", case
    assert Prediction.objects.get(pk=response.json()["id"]).cached_from_id is None


def test_another_version_misses(api, alice, earlier, cached_echo):
    other = another_version(cached_echo, "c" * 64)
    response = post(api, alice, {"version": other.sha256, "input": {"text": "hi"}}, path="/v1/predictions", **CACHE)
    assert response.json()["status"] == "starting"


def test_a_model_whose_owner_did_not_allow_it_never_caches(api, alice, echo_version):
    response = post(api, alice, {"input": {"text": "hi"}}, **CACHE)
    assert response.json()["status"] == "starting"
    assert Prediction.objects.get(pk=response.json()["id"]).cache_key == ""


def _change_model(version, **changes):
    Model.objects.filter(pk=version.model_id).update(**changes)
    selectors._models_to_run.clear()  # as if MODEL_CACHE_SECONDS had passed


def test_entries_are_per_account_unless_the_owner_shares_a_public_model(api, alice, bob, earlier, cached_echo):
    _change_model(cached_echo, visibility="public")
    assert post(api, bob, {"input": {"text": "hi"}}, **CACHE).json()["status"] == "starting"

    _change_model(cached_echo, cache_shared=True)
    shared_first = post(api, alice, {"input": {"text": "hi"}}, **CACHE).json()  # the shared scope is empty
    run_to_success(shared_first["id"], "hi!")
    hit = post(api, bob, {"input": {"text": "hi"}}, **CACHE).json()
    assert hit["status"] == "succeeded" and hit["output"] == "hi!"
    assert Prediction.objects.get(pk=hit["id"]).account == bob.account


def test_an_earlier_prediction_whose_data_was_removed_misses(api, alice, earlier):
    Prediction.objects.filter(pk=earlier).update(data_removed=True, output=None)
    assert post(api, alice, {"input": {"text": "hi"}}, **CACHE).json()["status"] == "starting"


def test_the_owner_sets_the_cache_policy_and_another_tenant_cannot(api, alice, bob, echo_version):
    changed = api.patch(
        "/v1/models/alice/echo",
        data=json.dumps({"cache_policy": "seeded", "description": "Says it back", "openai_api": "chat"}),
        content_type="application/json",
        **alice.auth,
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["cache_policy"] == "seeded" and changed.json()["description"] == "Says it back"
    Model.objects.filter(pk=echo_version.model_id).update(visibility="public")
    refused = api.patch(
        "/v1/models/alice/echo",
        data=json.dumps({"cache_policy": "off"}),
        content_type="application/json",
        **bob.auth,
    )
    assert refused.status_code == 404
    model = Model.objects.get(pk=echo_version.model_id)
    assert (model.cache_policy, model.description, model.openai_api) == ("seeded", "Says it back", "chat")


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body"), ({"cache_policy": "sometimes"}, "cache_policy"), ({"cache_shared": "yes"}, "cache_shared")],
)
def test_a_bad_update_is_a_400_naming_the_field(api, alice, echo_version, body, field):
    response = api.patch("/v1/models/alice/echo", data=json.dumps(body), content_type="application/json", **alice.auth)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in [f["field"] for f in response.json()["invalid_fields"]]
    assert Model.objects.get(pk=echo_version.model_id).cache_policy == "off"


# --- the key -------------------------------------------------------------------------------------

SCHEMA = {
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "properties": {
                    "prompt": {"type": "string"},
                    "seed": {"type": "integer", "nullable": True},
                    "image": {"type": "string", "format": "uri"},
                },
            }
        }
    }
}


def _key(alice, version, cleaned):
    return prediction_cache.cache_key(
        account=alice.account, version=version, validator=InputValidator(SCHEMA), cleaned=cleaned
    )


def test_a_sampling_model_caches_only_a_seeded_call(alice, echo_version):
    Model.objects.filter(pk=echo_version.model_id).update(cache_policy="seeded")
    echo_version.model.refresh_from_db()
    assert _key(alice, echo_version, {"prompt": "a"}) is None
    assert _key(alice, echo_version, {"prompt": "a", "seed": None}) is None
    assert _key(alice, echo_version, {"prompt": "a", "seed": 1}) != _key(
        alice, echo_version, {"prompt": "a", "seed": 2}
    )


def test_file_inputs_are_keyed_by_their_content(alice, bob, cached_echo, tmp_path):
    def data_uri(content: bytes, name: str) -> str:
        return f"data:image/png;name={name};base64,{base64.b64encode(content).decode()}"

    same = _key(alice, cached_echo, {"image": data_uri(b"cat", "a.png")})
    assert same is not None and same == _key(alice, cached_echo, {"image": data_uri(b"cat", "b.png")})
    assert same != _key(alice, cached_echo, {"image": data_uri(b"dog", "a.png")})
    # Whatever is behind another URL may change: not cacheable.
    assert _key(alice, cached_echo, {"image": "https://example.com/cat.png"}) is None
    # An upload of ours counts by its recorded digest.
    upload = File.objects.create(
        account=alice.account, kind="upload", name="cat.png", content_type="image/png", size=3, sha256="f" * 64, md5="0"
    )
    by_upload = _key(alice, cached_echo, {"image": f"http://testserver/v1/files/{upload.id}"})
    assert by_upload is not None and by_upload != same
    assert _key(alice, cached_echo, {"image": f"http://testserver/v1/files/{upload.id}", "prompt": "x"}) != by_upload
