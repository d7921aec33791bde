"""Custom metrics in the runner child: cog 0.23's ``current_scope().record_metric(name, value)``.

Under coglet, ``cog.current_scope()`` (and ``self.scope`` / ``self.record_metric`` on a
``BaseRunner``) reach the prediction's scope in coglet's Rust core; outside it they get a no-op
scope, which is what a Hearth child would get too. `install` points both at this module's
scopes instead, and the child sends each prediction's metrics with its terminal message.

The rules are coglet 0.23.1's, measured against its server (the messages are its own):

* A name is 1 to 128 characters in at most 4 dot-separated segments; each segment starts with
  an ASCII letter, holds only letters, digits and single underscores, and ends with a letter
  or digit. ``predict_time`` and names under ``cog.`` are reserved. A bad name raises
  ValueError in the predictor's code, so, unless it catches that, the prediction fails.
* A value is a bool, int, float, str, list or dict (of JSON values); anything else, None
  included, is a TypeError. Ints beyond 64 bits become floats. A NaN or infinite float is
  dropped without a word, since JSON cannot carry it (coglet's output loses it as well).
* ``mode="replace"`` (the default) sets the value; ``"incr"`` adds an int or float to it;
  ``"append"`` makes it a list (wrapping a value that is not one) and pushes the value.
  A name keeps the type of the value first recorded under it: recording another type raises
  TypeError until the name is deleted (``del scope.metrics[name]`` or ``.delete(name)``).
* Dots nest: ``timing.load`` and ``timing.run`` become ``{"timing": {"load": ..., "run": ...}}``.

Like `child`, this runs inside the model's own environment: the standard library and cog only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import cog

_MODES = ("replace", "incr", "append")
_VALUE_TYPES = (bool, int, float, str, list, dict)
_SEGMENT_CHARACTER = re.compile(r"[A-Za-z0-9_]")


def check_name(name: str) -> None:
    """Raise ValueError, with coglet's message, unless ``name`` is a valid metric name."""
    if not isinstance(name, str):
        raise TypeError(f"argument 'key': '{type(name).__name__}' object cannot be cast as 'str'")
    if not name:
        raise ValueError("metric name must not be empty")
    if len(name) > 128:
        raise ValueError(f"metric name must be 128 characters or fewer (got {len(name)} characters)")
    if name == "predict_time":
        raise ValueError("'predict_time' is reserved by the runtime")
    if name.startswith("cog."):
        raise ValueError("the 'cog.' prefix is reserved for system metrics")
    segments = name.split(".")
    if len(segments) > 4:
        raise ValueError(f"metric name must have at most 4 dot-separated segments (got {len(segments)})")
    for segment in segments:
        if not segment:
            raise ValueError("metric name must not contain empty segments (consecutive dots)")
        if not (segment[0].isascii() and segment[0].isalpha()):
            raise ValueError(f"metric name segment {segment!r} must start with a letter")
        for character in segment:
            if not _SEGMENT_CHARACTER.fullmatch(character):
                raise ValueError(f"metric name segment {segment!r} contains invalid character {character!r}")
        if "__" in segment:
            raise ValueError(f"metric name segment {segment!r} must not contain consecutive underscores")
        if segment.endswith("_"):
            raise ValueError(f"metric name segment {segment!r} must end with a letter or digit")


def _json(value: Any) -> Any:
    """``value`` as a JSON value; TypeError for anything JSON has no form for."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    raise TypeError(f"Cannot convert {type(value).__name__} to JSON metric value")


class MetricRecorder:
    """One prediction's metrics (``scope.metrics``)."""

    def __init__(self) -> None:
        self._tree: dict[str, Any] = {}
        self._types: dict[str, type] = {}  # full name -> type of the value first recorded

    def record(self, key: str, value: Any, mode: str | None = None) -> None:
        check_name(key)
        mode = "replace" if mode is None else mode
        if mode not in _MODES:
            raise TypeError(f"Invalid metric mode: {mode!r}. Expected 'replace', 'incr', or 'append'.")
        kind = next((k for k in _VALUE_TYPES if isinstance(value, k)), None)
        if kind is None:
            name = type(value).__name__
            raise TypeError(f"Unsupported metric value type: {name}. Expected bool, int, float, str, list, or dict.")
        if mode == "incr" and kind not in (int, float):
            raise TypeError(f"Increment mode requires int or float, got {kind.__name__}")
        known = self._types.get(key)
        if known is not None and known is not kind:
            raise TypeError(
                f"Metric {key!r} has type {known.__name__}, cannot set to {kind.__name__} without deleting first"
            )
        encoded = _json(value)
        if kind is float and encoded is None:
            return  # NaN or infinite: JSON cannot carry it
        path = key.split(".")
        current = self._get(path)
        if mode == "incr" and known is not None and current is not None:
            encoded = current + encoded
        elif mode == "append":
            if current is None:
                encoded = [encoded]
            elif isinstance(current, list):
                encoded = [*current, encoded]
            else:
                encoded = [current, encoded]
        self._set(path, encoded)
        self._types[key] = kind

    def delete(self, key: str) -> None:
        path = key.split(".")
        parent = self._parent(path, create=False)
        if parent is not None:
            parent.pop(path[-1], None)
        self._forget(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.record(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __repr__(self) -> str:
        return f"MetricRecorder({self._tree!r})"

    def values(self) -> dict[str, Any]:
        """The metrics as they go out: JSON, dotted names nested."""
        return self._tree

    def _get(self, path: list[str]) -> Any:
        parent = self._parent(path, create=False)
        return None if parent is None else parent.get(path[-1])

    def _parent(self, path: list[str], *, create: bool) -> dict[str, Any] | None:
        node = self._tree
        for depth, part in enumerate(path[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                if not create:
                    return None
                # A value where a namespace is wanted: the namespace replaces it.
                child = node[part] = {}
                self._forget(".".join(path[: depth + 1]))
            node = child
        return node

    def _set(self, path: list[str], value: Any) -> None:
        parent = self._parent(path, create=True)
        assert parent is not None
        parent[path[-1]] = value
        prefix = ".".join(path) + "."
        for name in [name for name in self._types if name.startswith(prefix)]:
            del self._types[name]  # the subtree it replaced

    def _forget(self, key: str) -> None:
        prefix = key + "."
        for name in [name for name in self._types if name == key or name.startswith(prefix)]:
            del self._types[name]


class _NoMetrics(MetricRecorder):
    """Outside a prediction (setup, module import): every call does nothing, as in Cog."""

    def record(self, key: str, value: Any, mode: str | None = None) -> None:
        return None

    def delete(self, key: str) -> None:
        return None


class Scope:
    """What ``cog.current_scope()`` returns."""

    def __init__(self, metrics: MetricRecorder) -> None:
        self._metrics = metrics

    @property
    def metrics(self) -> MetricRecorder:
        return self._metrics

    @property
    def context(self) -> dict[str, str]:
        return {}  # Cog's per-request context; Replicate's API has none to pass

    def record_metric(self, key: str, value: Any, mode: str | None = None) -> None:
        self._metrics.record(key, value, mode)

    def __repr__(self) -> str:
        return f"Scope(metrics={self._metrics!r})"


_NO_SCOPE = Scope(_NoMetrics())


def install(current: Callable[[], MetricRecorder | None]) -> None:
    """Make ``cog.current_scope()`` and ``BaseRunner.scope`` answer with the recorder that
    ``current()`` names (the running prediction's), or a no-op scope when it names none.
    Call it before the predictor's module is imported, which may bind ``current_scope``."""

    def current_scope() -> Scope:
        metrics = current()
        return _NO_SCOPE if metrics is None else Scope(metrics)

    cog.current_scope = current_scope
    cog.BaseRunner.scope = property(lambda self: current_scope())
