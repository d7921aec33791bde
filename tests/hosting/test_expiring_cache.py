"""The per-process caches of the hot path: entries expire, a lifetime of 0 caches nothing."""

import pytest

from hosting import expiring_cache
from hosting.expiring_cache import ExpiringCache


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(expiring_cache.time, "monotonic", lambda: now[0])
    return now


def test_a_value_is_loaded_once_until_it_expires(clock):
    cache, loads = ExpiringCache(seconds=lambda: 5), []
    load = lambda: loads.append(1) or len(loads)  # noqa: E731

    assert [cache.get_or_load("k", load) for _ in range(3)] == [1, 1, 1]
    clock[0] += 5
    assert cache.get_or_load("k", load) == 2


def test_a_lifetime_of_zero_caches_nothing(clock):
    cache = ExpiringCache(seconds=lambda: 0)
    cache.get_or_load("k", lambda: "v")
    assert cache.get("k", None) is None
    with pytest.raises(KeyError):
        cache.get("k")


def test_none_is_cached_like_any_value(clock):
    cache = ExpiringCache(seconds=lambda: 5)
    cache.get_or_load("unknown token", lambda: None)
    assert cache.get_or_load("unknown token", lambda: "loaded again") is None


def test_a_full_cache_starts_again_empty(clock):
    cache = ExpiringCache(seconds=lambda: 5, max_entries=2)
    for key in "abc":
        cache.get_or_load(key, lambda key=key: key)
    assert [cache.get(key, None) for key in "abc"] == [None, None, "c"]
