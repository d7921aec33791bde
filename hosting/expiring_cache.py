"""Short-lived per-process caches for the hot path (token identities, models and versions to
run): they save a query on every request, and a change reaches every process within the
lifetime the setting gives.

The lifetime is read from settings at each store, so `override_settings` and an operator's
setting of 0 (no caching) apply at once. A full cache is emptied rather than pruned: the
bound only guards against a flood of distinct keys (bad tokens, say), not a working set.
"""

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")
_MISSING = object()


class ExpiringCache(Generic[Value]):
    def __init__(self, *, seconds: Callable[[], float], max_entries: int = 10_000) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Value]] = {}

    def get(self, key: Hashable, default=_MISSING):
        """The value stored for `key` if it has not expired, else `default` (KeyError if none given)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        if default is _MISSING:
            raise KeyError(key)
        return default

    def get_or_load(self, key: Hashable, load: Callable[[], Value]) -> Value:
        try:
            return self.get(key)
        except KeyError:
            pass
        value = load()
        seconds = self._seconds()
        if seconds:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
