"""Counters and histograms for operators, kept in one Redis hash so that every process on every
machine adds to the same figures and any web process can serve them (`collector`, `/metrics`).

Why Redis rather than each process's own prometheus-client registry: predictions end in worker
processes on other machines (and some in web processes: a cancel while queued), while Prometheus
scrapes the web Deployment through its Service (docs/scaling.md). Per-process registries would
need every worker pod scraped, and their counts would leave with the pod; prometheus-client's
multiprocess mode joins only processes that share a directory on one machine. HINCRBY on a
shared hash is monotonic, as Prometheus counters must be. A Redis that restarts empty is a
counter reset, which `rate()` and `increase()` take in their stride.

Nothing here touches Redis on a prediction's path: each process adds to a tally in memory (a
few dict updates under a lock) and a thread of its own sends what changed every
FLUSH_INTERVAL_SECONDS in one pipeline. Sent with the `done` pipeline instead, the eight or so
commands of a prediction cost about 0.1 ms of its latency on a 2-core machine; batched, a busy
worker sends one round trip a second whatever its rate. What a process had not sent when it
died (at most one interval's worth) is lost; a normal exit sends it (atexit). A flush that fails
keeps its counts for the next one.

A histogram is kept as a count per bucket, not cumulative (one field per observation), plus its
sum; `read` makes the buckets cumulative. Writers label with ids (model, hardware), never names,
so they make no query; the collector names them at scrape time.
"""

import atexit
import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import redis

from hosting.redis_clients import sync_client

logger = logging.getLogger(__name__)

KEY = "hearth:metrics"
FLUSH_INTERVAL_SECONDS = 1.0
# Spend is counted in micro-dollars, the unit billing rounds charges to (billing/money.py), so
# the sum stays exact however many charges it adds.
_MICRO = Decimal(1_000_000)


class _Tally:
    """This process's counts not yet in Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._sums: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + amount
            self._start_sender()

    def add_sum(self, name: str, amount: float) -> None:
        with self._lock:
            self._sums[name] = self._sums.get(name, 0.0) + amount
            self._start_sender()

    def _start_sender(self) -> None:
        # Started by the first count (a forked child starts its own: threads do not survive fork).
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._send_forever, name="metrics-sender", daemon=True)
            self._thread.start()

    def _send_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(FLUSH_INTERVAL_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Send every count not yet sent, in one round trip; on failure keep them for the next."""
        with self._lock:
            counts, sums = self._counts, self._sums
            self._counts, self._sums = {}, {}
        if not counts and not sums:
            return
        pipe = sync_client().pipeline(transaction=False)
        for name, amount in counts.items():
            pipe.hincrby(KEY, name, amount)
        for name, total in sums.items():
            pipe.hincrbyfloat(KEY, name, total)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            # A reply lost after Redis applied the commands counts them twice; rare, and a
            # counter that overcounts a moment of trouble beats one that drops it.
            logger.warning("metrics not sent to Redis (%r); trying again", exc)
            with self._lock:
                for name, amount in counts.items():
                    self._counts[name] = self._counts.get(name, 0) + amount
                for name, total in sums.items():
                    self._sums[name] = self._sums.get(name, 0.0) + total


_tally = _Tally()
flush = _tally.flush
atexit.register(flush)


@dataclass(frozen=True)
class Histogram:
    name: str  # hearth_prediction_<name>_seconds
    help: str
    buckets: tuple[float, ...]  # upper bounds in seconds; +Inf is implied


_SHORT = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WAIT = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_BOOT = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0)
_RUN = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

HISTOGRAMS = {
    histogram.name: histogram
    for histogram in (
        Histogram("queue", "Seconds from creation until a worker claimed the prediction", _WAIT),
        Histogram("boot", "Seconds a cold boot took (runner start, imports and setup())", _BOOT),
        Histogram("setup", "Seconds the predictor's setup() took on a cold boot", _BOOT),
        Histogram("predict", "Seconds predict() ran", _RUN),
        Histogram(
            "overhead",
            "Platform overhead: total time less queue, boot and predict time (inputs, runner lease, outputs)",
            _SHORT,
        ),
    )
}


def _bucket(histogram: Histogram, value: float) -> str:
    for bound in histogram.buckets:
        if value <= bound:
            return repr(bound)
    return "+Inf"


def _observe(name: str, hardware_id: int, value: float) -> None:
    value = max(0.0, value)
    _tally.add(f"hist:{name}:{hardware_id}:{_bucket(HISTOGRAMS[name], value)}")
    _tally.add_sum(f"hist:{name}:{hardware_id}:sum", value)


def prediction_claimed(prediction: Any) -> None:
    """The time it waited for a worker, observed when a worker claims it."""
    if prediction.started_at is not None:
        _observe("queue", prediction.hardware_id, (prediction.started_at - prediction.created_at).total_seconds())


def prediction_ended(prediction: Any) -> None:
    """Count a prediction that reached its final state (on any path: the worker, a cancel in the
    queue, the sweep), with its timings and charge from its `metrics`."""
    hardware_id = prediction.hardware_id
    _tally.add(f"predictions:{prediction.model_id}:{hardware_id}:{prediction.status}")
    metrics = prediction.metrics or {}
    for name, key in (("boot", "boot_time"), ("setup", "setup_time"), ("predict", "predict_time")):
        if isinstance(metrics.get(key), int | float):
            _observe(name, hardware_id, metrics[key])
    overhead = _overhead(metrics)
    if overhead is not None:
        _observe("overhead", hardware_id, overhead)
    micro_dollars = _micro_dollars(metrics.get("cost"))
    if micro_dollars:
        _tally.add(f"spend:{hardware_id}", micro_dollars)


def _overhead(metrics: dict[str, Any]) -> float | None:
    """What the platform added to a prediction that ran: total_time (creation to the end of the
    run) less the time it queued, its cold boot and predict() itself. None when it never ran."""
    parts = [metrics.get(key) for key in ("total_time", "predict_time")]
    if not all(isinstance(part, int | float) for part in parts):
        return None
    waited = sum(metrics.get(key, 0) or 0 for key in ("queue_time", "boot_time"))
    return max(0.0, metrics["total_time"] - metrics["predict_time"] - waited)


def _micro_dollars(cost: Any) -> int:
    try:
        return int(Decimal(str(cost)) * _MICRO) if cost is not None else 0
    except (InvalidOperation, ValueError):
        return 0


def webhook_delivered(*, event: str, outcome: str) -> None:
    """Count one webhook delivery attempt. `outcome`: `delivered` (2xx), `rejected` (another
    answer), `unreachable` (no connection, a timeout) or `refused` (by the outbound guard)."""
    _tally.add(f"webhooks:{event}:{outcome}")


@dataclass
class HistogramSeries:
    """One label set's histogram, cumulative as Prometheus wants it."""

    buckets: list[tuple[str, int]]  # (upper bound, observations <= it), ending with +Inf
    sum: float


@dataclass
class Figures:
    predictions: dict[tuple[int, int, str], int] = field(default_factory=dict)  # (model, hardware, status)
    histograms: dict[str, dict[int, HistogramSeries]] = field(default_factory=dict)  # name -> hardware -> series
    spend: dict[int, float] = field(default_factory=dict)  # hardware -> dollars
    webhooks: dict[tuple[str, str], int] = field(default_factory=dict)  # (event, outcome)


def read() -> Figures:
    """Every figure counted so far by every process (less what they have not sent yet): one HGETALL."""
    fields: dict[str, str] = sync_client().hgetall(KEY)  # type: ignore[assignment]  # decode_responses
    return parse(fields.items())


def parse(fields: Iterable[tuple[str, str]]) -> Figures:
    figures = Figures()
    bucket_counts: dict[tuple[str, int], dict[float, int]] = {}
    sums: dict[tuple[str, int], float] = {}
    for name, value in fields:
        kind, _, rest = name.partition(":")
        try:
            if kind == "predictions":
                model, hardware, status = rest.split(":")
                figures.predictions[(int(model), int(hardware), status)] = int(value)
            elif kind == "hist":
                histogram_name, hardware, bound = rest.split(":")
                if histogram_name not in HISTOGRAMS:
                    continue  # one an older release kept
                label_set = (histogram_name, int(hardware))
                if bound == "sum":
                    sums[label_set] = float(value)
                else:
                    stored = bucket_counts.setdefault(label_set, {})
                    stored[float(bound)] = stored.get(float(bound), 0) + int(value)
            elif kind == "spend":
                figures.spend[int(rest)] = int(value) / float(_MICRO)
            elif kind == "webhooks":
                event, outcome = rest.split(":")
                figures.webhooks[(event, outcome)] = int(value)
        except ValueError:
            logger.warning("metrics field %r is not ours; ignored", name)
    for (histogram_name, hardware_pk), counts in bucket_counts.items():
        series = HistogramSeries(
            _cumulative(HISTOGRAMS[histogram_name].buckets, counts), sums.get((histogram_name, hardware_pk), 0.0)
        )
        figures.histograms.setdefault(histogram_name, {})[hardware_pk] = series
    return figures


def _cumulative(bounds: tuple[float, ...], counts: dict[float, int]) -> list[tuple[str, int]]:
    """Counts per bucket made cumulative over `bounds`. A count stored under a bound that is no
    longer one of them (the buckets changed between releases) goes to the next bound up, so no
    observation is lost and every bucket still only grows."""
    result, total = [], 0
    remaining = dict(counts)
    for bound in (*bounds, math.inf):
        for stored in [stored for stored in remaining if stored <= bound]:
            total += remaining.pop(stored)
        result.append(("+Inf" if bound == math.inf else repr(bound), total))
    return result
