"""Per-token rate limits, counted in Redis (hosting.ratelimit)."""

import pytest

from accounts.services import token_create
from hosting import ratelimit
from hosting.redis_clients import sync_client
from inference.models import Prediction


@pytest.fixture(autouse=True)
def _no_counts_left_over():
    """Token ids restart with each test database; counts of an earlier run must not leak in."""
    redis = sync_client()
    for key in redis.scan_iter("ratelimit:*"):
        redis.delete(key)
    return


def _create(api, persona):
    return api.post("/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **persona.auth)


def _assert_throttled(response) -> int:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    retry_after = response["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= ratelimit.WINDOW_SECONDS
    body = response.json()
    assert body["title"] == "Too many requests" and body["status"] == 429
    assert f"Expected available in {retry_after} second" in body["detail"]
    return int(retry_after)


def test_prediction_creation_past_the_limit_is_429_with_retry_after_and_stores_nothing(
    api, alice, echo_version, settings
):
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 2
    assert [_create(api, alice).status_code for _ in range(2)] == [201, 201]
    _assert_throttled(_create(api, alice))
    assert Prediction.objects.count() == 2


def test_other_endpoints_have_their_own_limit(api, alice, echo_version, settings):
    settings.RATE_LIMIT_API_PER_MINUTE = 3
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 100
    assert [api.get(path, **alice.auth).status_code for path in ("/v1/account", "/v1/hardware", "/v1/predictions")] == [
        200,
        200,
        200,
    ]
    _assert_throttled(api.get("/v1/models/alice/echo", **alice.auth))
    _assert_throttled(api.post("/v1/predictions/nope/cancel", **alice.auth))
    assert _create(api, alice).status_code == 201  # creation is counted apart


def test_limits_are_per_token(api, alice, echo_version, settings):
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 1
    _, second_token = token_create(account=alice.account, name="second")
    assert _create(api, alice).status_code == 201
    _assert_throttled(_create(api, alice))
    other = api.post(
        "/v1/models/alice/echo/predictions",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {second_token}",
    )
    assert other.status_code == 201


def test_the_count_lives_in_redis_so_every_web_process_shares_it(api, alice, echo_version, settings):
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 600
    # Another web process has already counted 600 creations of this token in this window.
    key, _ = ratelimit.window_key(ratelimit.CREATE, alice.token.pk)
    sync_client().set(key, 600, ex=ratelimit.WINDOW_SECONDS)
    _assert_throttled(_create(api, alice))
    assert 0 < sync_client().ttl(key) <= ratelimit.WINDOW_SECONDS + 5  # counters expire with their window


def test_a_limit_of_zero_turns_the_scope_off(api, alice, echo_version, settings):
    settings.RATE_LIMIT_CREATE_PER_MINUTE = 0
    assert all(_create(api, alice).status_code == 201 for _ in range(3))
    assert not list(sync_client().scan_iter("ratelimit:create:*"))


def test_unauthenticated_requests_are_401_and_not_counted(api, settings):
    settings.RATE_LIMIT_API_PER_MINUTE = 1
    assert [api.get("/v1/account").status_code for _ in range(3)] == [401, 401, 401]
    assert not list(sync_client().scan_iter("ratelimit:*"))


@pytest.mark.parametrize(
    ("now", "window", "retry_after"),
    [
        (120.0, 2, 60.0),
        (179.25, 2, 0.75),
        (180.0, 3, 60.0),
    ],
)
def test_windows_are_whole_minutes(now, window, retry_after):
    assert ratelimit.window_key(ratelimit.API, 7, now=now) == (f"ratelimit:api:7:{window}", retry_after)


@pytest.mark.parametrize(("retry_after", "header"), [(0.2, "1"), (1.0, "1"), (1.01, "2"), (59.9, "60")])
def test_retry_after_is_whole_seconds_rounded_up(retry_after, header):
    assert ratelimit.RateLimited(retry_after).headers["Retry-After"] == header
