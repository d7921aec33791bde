"""The opt-in prediction cache through the unmodified `replicate` client, on real Daphne +
Celery + runners: the second identical call is answered from the cache, not billed and far
faster; another input, an unseeded call to a sampling model and another tenant miss."""

import contextlib
import time
from decimal import Decimal

import httpx
import pytest
import replicate

from billing.models import UsageRecord
from inference.models import Prediction
from tests.conftest import make_persona

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def cache_policy(platform, model: str, **settings):
    """The model's cache settings, set by its owner (PATCH /v1/models), for the block."""

    def patch(body):
        response = httpx.patch(
            f"{platform.url}/v1/models/{model}",
            json=body,
            headers={"Authorization": f"Bearer {platform.alice.plaintext}"},
        )
        assert response.status_code == 200, response.text

    patch(settings)
    time.sleep(2.1)  # past MODEL_CACHE_SECONDS (2 s): the web process reads the model afresh
    try:
        yield
    finally:
        patch({"cache_policy": "off", "cache_shared": False})


def caching_client(platform, persona=None) -> replicate.Client:
    # The client's own `Prefer: wait` (wait=True, replicate.run) replaces this header: these
    # calls create without waiting and then wait, as `predictions.create` does by default.
    return replicate.Client(
        api_token=(persona or platform.alice).plaintext, base_url=platform.url, headers={"Prefer": "cache"}
    )


def run(client, version: str, **input_):
    started = time.monotonic()
    prediction = client.predictions.create(version=version, input=input_)
    prediction.wait()
    return prediction, time.monotonic() - started


def test_the_second_identical_call_is_a_hit_billed_nothing_and_far_faster(platform, django_db_blocker):
    client = caching_client(platform)
    version = platform.versions["sleeper"]
    with cache_policy(platform, "alice/sleeper", cache_policy="deterministic"):
        first, first_took = run(client, version, seconds=1.5)
        second, second_took = run(client, version, seconds=1.5)
        other, _ = run(client, version, seconds=0.2)

    assert (first.status, first.output) == ("succeeded", "woke up") and first_took >= 1.5
    assert (second.status, second.output) == ("succeeded", "woke up")
    assert second.id != first.id and second.metrics["cached"] is True
    assert second.metrics["cached_predict_time"] == pytest.approx(first.metrics["predict_time"])
    assert second_took < 0.5 and second_took < first_took / 4, (first_took, second_took)
    assert other.status == "succeeded" and "cached" not in other.metrics  # another input: it ran
    with django_db_blocker.unblock():
        assert UsageRecord.objects.filter(prediction_id=first.id).exists()
        saved = UsageRecord.objects.get(prediction_id=second.id)
        assert saved.amount == 0 and saved.saved_seconds > Decimal("1.4")
        assert Prediction.objects.get(pk=second.id).cached_from_id == first.id


def test_without_prefer_cache_the_same_call_runs(platform):
    version = platform.versions["sleeper"]
    with cache_policy(platform, "alice/sleeper", cache_policy="deterministic"):
        run(caching_client(platform), version, seconds=0.1)
        again, _ = run(platform.client(), version, seconds=0.1)
    assert again.status == "succeeded" and "cached" not in again.metrics


def test_a_sampling_model_is_a_hit_only_when_seeded(platform):
    client = caching_client(platform)
    version = platform.versions["text-generation"]
    with cache_policy(platform, "alice/text-generation", cache_policy="seeded"):
        seeded = [run(client, version, prompt="Hi", max_tokens=4, seed=7)[0] for _ in range(2)]
        unseeded = [run(client, version, prompt="Hi", max_tokens=4)[0] for _ in range(2)]
    assert [p.status for p in seeded + unseeded] == ["succeeded"] * 4
    assert seeded[1].metrics.get("cached") is True and seeded[1].output == seeded[0].output
    assert not any(p.metrics.get("cached") for p in unseeded)


def test_another_tenant_misses_unless_the_owner_shares_the_public_model(platform, django_db_blocker):
    version = platform.versions["public-echo"]
    with django_db_blocker.unblock():
        # A tenant of its own: bob's predictions must stay as other tests expect them.
        carol = make_persona("carol-cache")
    alice, bob = caching_client(platform), caching_client(platform, carol)
    with cache_policy(platform, "alice/public-echo", cache_policy="deterministic"):
        run(alice, version, text="shared?")
        assert "cached" not in run(bob, version, text="shared?")[0].metrics
    with cache_policy(platform, "alice/public-echo", cache_policy="deterministic", cache_shared=True):
        run(alice, version, text="shared!")
        hit = run(bob, version, text="shared!")[0]
        assert hit.metrics["cached"] is True
        assert bob.predictions.get(hit.id).id == hit.id  # bob's own prediction
