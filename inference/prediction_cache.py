"""An opt-in cache of predictions' outputs: the same input to the same version, asked again,
answered from an earlier prediction in milliseconds, without a worker, and billed nothing.

Both sides must agree:

* the model's owner says its predictions may be reused (`Model.cache_policy`): only when the
  predictor is deterministic given its input, either always (`deterministic`) or when the
  caller sets its `seed` input (`seeded`, for sampling models); off by default;
* the caller asks for it, per request with `Prefer: cache`, or for every prediction of a
  deployment (`Deployment.cache_predictions`).

The key is the version id and the canonical JSON of the input, with each file input replaced by
the SHA-256 of its content (a data: URI's bytes, or a file uploaded here). A file given by any
other URL makes the prediction uncacheable: what is behind it may change. Entries are kept per
account, unless the owner shares them (`Model.cache_shared`) and the model is public; they last
PREDICTION_CACHE_SECONDS, and never longer than the output they point to (a source whose data
was removed is a miss).

An entry is a Redis key naming the prediction that made it; the worker sets it when a prediction
created with a `cache_key` succeeds. A hit is a new prediction of the caller's, `succeeded` at
once with the source's output (output files are capability URLs, readable by whoever holds
them), `metrics.cached` true and `metrics.cached_predict_time` the source's predict time (what
the usage page counts as saved); no worker runs it and nothing is billed.
"""

import hashlib
import json
from typing import Any

import redis
from django.conf import settings

from accounts.models import Account
from hosting.redis_clients import sync_client
from inference.files import inputs
from inference.models import Model, Prediction, Version
from inference.runtime.validation import InputValidator

_PREFIX = "hearth:cache:"


class _NotAddressable(Exception):
    """A file input whose content cannot be known at create (a URL to elsewhere)."""


def cache_key(*, account: Account, version: Version, validator: InputValidator, cleaned: dict[str, Any]) -> str | None:
    """The cache key of this input to `version`, or None when its output may not be reused."""
    model = version.model
    if model.cache_policy == Model.CachePolicy.OFF:
        return None
    if model.cache_policy == Model.CachePolicy.SEEDED and cleaned.get("seed") is None:
        return None  # a sampling model with a random seed: another answer every time

    def content_address(label: str, value: str) -> str:
        digest = inputs.content_sha256(account, value)
        if digest is None:
            raise _NotAddressable(label)
        return f"sha256:{digest}"

    try:
        canonical = validator.map_uris(cleaned, content_address)
    except (_NotAddressable, ValueError):
        return None
    material = json.dumps([version.sha256, canonical], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    shared = model.cache_shared and model.visibility == Model.Visibility.PUBLIC
    scope = "shared" if shared else f"account-{account.pk}"
    return f"{scope}:{hashlib.sha256(material.encode()).hexdigest()}"


def cached_source(key: str) -> Prediction | None:
    """The succeeded prediction whose output answers `key`, if one is cached and still has it."""
    try:
        source_id = sync_client().get(_PREFIX + key)
    except redis.RedisError:  # no cache to read: the prediction runs, as it would have
        return None
    if source_id is None:
        return None
    return (
        Prediction.objects.filter(pk=source_id, status=Prediction.Status.SUCCEEDED, data_removed=False)
        .only("id", "output", "metrics")
        .first()
    )


def remember(prediction_id: str, key: str) -> None:
    """Make a succeeded prediction the answer to `key` for PREDICTION_CACHE_SECONDS (a Redis
    error loses the entry, not the prediction)."""
    try:
        sync_client().set(_PREFIX + key, prediction_id, ex=settings.PREDICTION_CACHE_SECONDS)
    except redis.RedisError:
        pass


def hit_fields(source: Prediction) -> dict[str, Any]:
    """What a prediction answered from `source` holds, beside what the caller sent."""
    predict_time = (source.metrics or {}).get("predict_time", 0)
    return {
        "status": Prediction.Status.SUCCEEDED,
        "output": source.output,
        "metrics": {"cached": True, "predict_time": 0, "cached_predict_time": predict_time},
        "cached_from_id": source.pk,
    }
