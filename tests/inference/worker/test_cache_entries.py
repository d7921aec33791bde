"""The worker's part in the prediction cache: a prediction made with a cache key leaves an entry
when it succeeds, and none when it fails."""

import pytest

from hosting.redis_clients import sync_client
from inference import prediction_cache
from inference.models import Prediction
from inference.worker import execution

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_succeeded_prediction_made_with_a_cache_key_answers_it(alice, echo_version, pool):
    prediction = Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, input={"text": "hi"}, cache_key="k1"
    )
    execution.prediction_run(prediction_id=prediction.id)

    assert sync_client().get("hearth:cache:k1") == prediction.id
    assert prediction_cache.cached_source("k1").output == "hi"


def test_a_prediction_without_a_cache_key_or_that_fails_leaves_no_entry(alice, echo_version, pool, tmp_path):
    plain = Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, input={"text": "hi"}
    )
    execution.prediction_run(prediction_id=plain.id)
    (tmp_path / "predict.py").write_text("raise RuntimeError('no weights')\n")
    pool.close()
    failing = Prediction.objects.create(
        account=alice.account, model=echo_version.model, version=echo_version, input={"text": "x"}, cache_key="k2"
    )
    execution.prediction_run(prediction_id=failing.id)

    failing.refresh_from_db()
    assert failing.status == "failed"
    assert sync_client().get("hearth:cache:k2") is None
    assert not any(sync_client().get(key) == plain.id for key in sync_client().scan_iter(match="hearth:cache:*"))
