"""One fault injected with predictions in flight, and what must hold afterwards (issue 21):

- every prediction reaches a terminal state within the bound the test states;
- none runs twice (the recorder predictor writes a line when predict() starts and ends), but
  the one a killed worker was running, which is queued again once, as liveness.py promises;
- exactly one usage record for each prediction whose predict() started;
- every API call made during the fault (a probe thread reads, lists and creates throughout)
  answers 200/201, or 503 problem+json with Retry-After: never a 500, never no answer;
- every prediction that exists was answered 201 to the client that created it;
- the SSE stream of every prediction in flight, open through the fault, ends with `done`: a
  reader reconnects after a 503 or an `error` event that asks it to (with Last-Event-ID), as
  the stream tells it to, and never waits on a stream that has gone quiet or never ends;
- the API answers a list and a create again within a few seconds of the fault's end, and then
  reads from eight clients at once, every one.

The figures (how long the API took to answer again, how long until everything was terminal)
are printed; run with `-s` to see them.
"""

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import httpx

from billing.models import UsageRecord
from inference.models import Prediction
from tests.chaos.chaos_platform import ChaosPlatform

CREATE_PATH = "/v1/models/chaos/recorder/predictions"
# An answer slower than this counts as none: a client gives up long before.
CALL_TIMEOUT = 15.0
# An SSE stream sends a keepalive every second (STREAM_KEEPALIVE_SECONDS=1): this much silence
# means it hangs.
STREAM_SILENCE_SECONDS = 10.0
ALLOWED_STATUSES = {200, 201, 503}
RESUME_HINT = "reconnect with Last-Event-ID"
# Once the API answers again: this many clients at once, this many reads each, all answered 200.
STEADY_CLIENTS, STEADY_READS = 8, 5


@dataclass
class Call:
    seconds: float  # since the fault began, when the answer came
    what: str
    status: int | None  # None: no answer (a connection error, a timeout)
    content_type: str = ""
    retry_after: str | None = None
    body: str = ""

    def is_acceptable(self) -> bool:
        if self.status not in ALLOWED_STATUSES:
            return False
        if self.status == 503:
            return self.content_type == "application/problem+json" and self.retry_after is not None
        return True


def _call_from(response: httpx.Response, what: str, fault_at: float) -> Call:
    """What an answer was, with the body of an error (read here for a stream's)."""
    error = response.status_code >= 400
    return Call(
        time.monotonic() - fault_at,
        what,
        response.status_code,
        response.headers.get("Content-Type", ""),
        response.headers.get("Retry-After"),
        response.read().decode(errors="replace")[:300] if error else "",
    )


class StreamWatch:
    """Reads one prediction's SSE stream in a thread, as a careful client would: opened again
    after a 503 (once its Retry-After has passed) and after an `error` event that asks for it
    (from the last event id), until the stream ends. Records what it got, how it ended."""

    def __init__(self, url: str, fault_at: float) -> None:
        self.url = url
        self.fault_at = fault_at
        self.opens: list[Call] = []
        self.events: list[str] = []
        self.failure: str | None = None
        self._last_id = ""
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, name="stream-watch", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        timeout = httpx.Timeout(CALL_TIMEOUT, read=STREAM_SILENCE_SECONDS)
        try:
            while self._read_once(timeout):
                pass
        except httpx.ReadTimeout:
            self.failure = f"hung: nothing, not even a keepalive, for {STREAM_SILENCE_SECONDS:g} s"
        except httpx.HTTPError as exc:
            self.failure = repr(exc)

    def _read_once(self, timeout: httpx.Timeout) -> bool:
        """One connection; whether to open another."""
        headers = {"Accept": "text/event-stream"}
        if self._last_id:
            headers["Last-Event-ID"] = self._last_id
        with httpx.stream("GET", self.url, headers=headers, timeout=timeout) as response:
            self._response = response
            self.opens.append(_call_from(response, "GET urls.stream", self.fault_at))
            if response.status_code == 503:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                return True
            if response.status_code != 200:
                return False
            resume = False
            for line in response.iter_lines():
                if line.startswith("event: "):
                    self.events.append(line.removeprefix("event: "))
                elif line.startswith("id: "):
                    self._last_id = line.removeprefix("id: ")
                elif line.startswith("data: ") and self.events[-1:] == ["error"]:
                    resume = RESUME_HINT in line
            return resume

    def wait(self, until: float) -> None:
        self._thread.join(timeout=max(0.0, until - time.monotonic()))
        if self._thread.is_alive():
            self.failure = "still open: the stream neither ended nor went quiet"
            if self._response is not None:
                self._response.close()


@dataclass
class FaultRun:
    """The predictions of one fault, created through the API with tags `<name>-<n>`."""

    platform: ChaosPlatform
    name: str
    created: dict[str, str] = field(default_factory=dict)  # tag -> id, of those answered 201
    calls: list[Call] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    streams: dict[str, StreamWatch] = field(default_factory=dict)
    fault_at: float = 0.0
    _stream_urls: dict[str, str] = field(default_factory=dict)  # of the predictions submitted
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _creates: int = 0

    def create(self, http: httpx.Client, *, seconds: float, steps: int = 4, wait: int = 0) -> httpx.Response:
        """Create one prediction; remembers it when answered 201."""
        with self._lock:
            tag = f"{self.name}-{self._creates}"
            self._creates += 1
        headers = {"Prefer": f"wait={wait}"} if wait else {}
        body = {"input": {"tag": tag, "seconds": seconds, "steps": steps}}
        response = http.post(CREATE_PATH, json=body, headers=headers)
        if response.status_code == 201:
            with self._lock:
                self.created[tag] = response.json()["id"]
        return response

    def submit(self, count: int, *, seconds: float, steps: int = 4) -> None:
        """`count` predictions in flight, before any fault; their streams are watched."""
        with self.platform.http() as http:
            for _ in range(count):
                response = self.create(http, seconds=seconds, steps=steps)
                assert response.status_code == 201, response.text
                self._stream_urls[response.json()["input"]["tag"]] = response.json()["urls"]["stream"]

    def running(self, timeout: float = 30) -> tuple[str, int]:
        """A tag of this run whose predict() has started and not ended, and its runner's pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started: dict[str, int] = {}
            for event, tag, pid in self.platform.records():
                if tag in self.created:
                    if event == "start":
                        started[tag] = pid
                    else:
                        started.pop(tag, None)
            if started:
                return next(iter(started.items()))
            time.sleep(0.05)
        raise AssertionError(f"no prediction of {self.name} started within {timeout} s")

    @contextlib.contextmanager
    def probing(self, *, bound: float) -> Iterator[None]:
        """Watch the submitted predictions' streams and call the API throughout the body (which
        injects the fault); afterwards every prediction of the run must be terminal, and every
        stream ended, `bound` seconds after the fault began at most."""
        self.fault_at = time.monotonic()
        self.streams = {tag: StreamWatch(url, self.fault_at) for tag, url in self._stream_urls.items()}
        stop = threading.Event()
        probe = threading.Thread(target=self._probe, args=(stop,), name="api-probe", daemon=True)
        probe.start()
        try:
            yield
            self._settle(until=self.fault_at + bound)
        finally:
            stop.set()
            probe.join(timeout=CALL_TIMEOUT + 5)
        self._settle(until=self.fault_at + bound)  # and those the probe created meanwhile
        self.figures["terminal_after_s"] = time.monotonic() - self.fault_at
        for stream in self.streams.values():
            stream.wait(until=self.fault_at + bound)

    def api_answers(self, *, within: float) -> None:
        """Call once the fault is over: until a list and a create both succeed, at most `within`
        s; then reads from several clients at once all succeed (no connection the fault left
        dead waits in a pool for a request to come and fail on it)."""
        began = time.monotonic()
        deadline = began + within
        listed = created = False
        with self.platform.http(timeout=within) as http:
            while not (listed and created) and time.monotonic() < deadline:
                listed = listed or _status(lambda: http.get("/v1/predictions")) == 200
                created = created or _status(lambda: self.create(http, seconds=0.1, steps=1)) == 201
                if not (listed and created):
                    time.sleep(0.1)
        self.figures["api_back_after_s"] = time.monotonic() - began
        assert listed and created, f"the API did not answer a list and a create within {within} s of the fault's end"
        with ThreadPoolExecutor(STEADY_CLIENTS) as clients:
            statuses = list(clients.map(lambda _: self._reads(STEADY_READS), range(STEADY_CLIENTS)))
        assert all(status == 200 for batch in statuses for status in batch), f"reads once back: {statuses}"

    def _reads(self, count: int) -> list[int | None]:
        with self.platform.http() as http:
            return [_status(lambda: http.get("/v1/predictions")) for _ in range(count)]

    def _probe(self, stop: threading.Event) -> None:
        """Reads a prediction, lists predictions, and every half second creates one (every
        other create with `Prefer: wait`), until stopped."""
        last_create = 0.0
        with self.platform.http(timeout=CALL_TIMEOUT) as http:
            while not stop.wait(0.1):
                with self._lock:
                    some_id = random.choice(list(self.created.values()))
                self._call("GET /v1/predictions/{id}", partial(http.get, f"/v1/predictions/{some_id}"))
                self._call("GET /v1/predictions", lambda: http.get("/v1/predictions"))
                if time.monotonic() - last_create >= 0.5:
                    last_create = time.monotonic()
                    wait = 2 if self._creates % 2 else 0
                    what = f"POST {CREATE_PATH}" + (" (Prefer: wait=2)" if wait else "")
                    self._call(what, partial(self.create, http, seconds=0.2, steps=1, wait=wait))

    def _call(self, what: str, send: Callable[[], httpx.Response]) -> None:
        try:
            call = _call_from(send(), what, self.fault_at)
        except httpx.HTTPError as exc:
            call = Call(time.monotonic() - self.fault_at, what, None, body=repr(exc))
        with self._lock:
            self.calls.append(call)

    def _settle(self, *, until: float) -> None:
        while True:
            with self._lock:
                ids = list(self.created.values())
            waiting = list(
                Prediction.objects.filter(pk__in=ids)
                .exclude(status__in=Prediction.TERMINAL_STATUSES)
                .values_list("id", "status")
            )
            if not waiting:
                return
            assert time.monotonic() < until, (
                f"{len(waiting)} predictions not terminal {until - self.fault_at:.0f} s after the fault: {waiting}"
            )
            time.sleep(0.2)

    def assert_accounted(self, *, failed: dict[str, str] | None = None, ran_twice: set[str] | None = None) -> None:
        """What every fault must leave (the module's docstring). `failed`: tag -> words its error
        must hold (every other prediction succeeded); `ran_twice`: tags whose worker was killed
        under them, queued again once. Lists every problem found, not only the first."""
        self._print_figures()
        problems = self._call_problems() + self._prediction_problems(failed or {}, ran_twice or set())
        problems += self._stream_problems()
        assert not problems, "\n".join(problems)

    def _call_problems(self) -> list[str]:
        bad = [call for call in self.calls if not call.is_acceptable()]
        return [f"{len(bad)} of {len(self.calls)} API calls during the fault: {bad[:5]}"] if bad else []

    def _prediction_problems(self, failed: dict[str, str], ran_twice: set[str]) -> list[str]:
        predictions = {
            p.input["tag"]: p
            for p in Prediction.objects.filter(
                account=self.platform.persona.account, input__tag__startswith=f"{self.name}-"
            )
        }
        problems = []
        if set(predictions) != set(self.created):  # one exists that its client was told failed
            problems.append(f"stored and answered 201 differ: {set(predictions) ^ set(self.created)}")
        records = self.platform.records()
        starts = Counter(tag for event, tag, _pid in records if event == "start")
        ends = Counter(tag for event, tag, _pid in records if event == "end")
        usage = Counter(
            UsageRecord.objects.filter(prediction__in=predictions.values()).values_list("prediction_id", flat=True)
        )
        for tag, prediction in sorted(predictions.items()):
            expected_starts = 2 if tag in ran_twice else 1
            facts = [
                (
                    prediction.status == "failed" and failed[tag] in (prediction.error or "")
                    if tag in failed
                    else prediction.status == "succeeded"
                    and prediction.output == [f"{tag}:{step}" for step in range(prediction.input["steps"])]
                ),
                starts[tag] == expected_starts,
                ends[tag] == (0 if tag in failed else 1),
                tag not in ran_twice or (prediction.attempts == 2 and "queued again" in prediction.logs),
                usage[prediction.id] == 1,  # its predict() started: billed, exactly once
            ]
            if not all(facts):
                problems.append(
                    f"{tag} ({prediction.id}): {prediction.status} {prediction.error!r}, "
                    f"{starts[tag]} starts, {ends[tag]} ends, {prediction.attempts} attempts, "
                    f"{usage[prediction.id]} usage records"
                )
        return problems

    def _stream_problems(self) -> list[str]:
        problems = []
        for tag, stream in sorted(self.streams.items()):
            bad_opens = [call for call in stream.opens if not call.is_acceptable()]
            if stream.failure or bad_opens or stream.events[-1:] != ["done"]:
                problems.append(f"stream of {tag}: {stream.failure}, events {stream.events}, opens {stream.opens}")
        return problems

    def _print_figures(self) -> None:
        statuses = Counter(call.status for call in self.calls)
        reopened = sum(len(stream.opens) - 1 for stream in self.streams.values())
        figures = ", ".join(f"{name} {value:.1f}" for name, value in self.figures.items())
        print(
            f"\n[chaos] {self.name}: {len(self.created)} predictions, {len(self.calls)} API calls during "
            f"the fault {dict(statuses)}, {len(self.streams)} streams ({reopened} reopened), {figures}"
        )


def _status(send: Callable[[], httpx.Response]) -> int | None:
    try:
        return send().status_code
    except httpx.HTTPError:
        return None
