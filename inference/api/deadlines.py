"""Deadlines: `Cancel-After: <duration>` (replicate-api.md §4.1, §13), an automatic cancellation
deadline measured from creation, e.g. `30s`, `5m`, `1h30m`, or a bare number of seconds; at
least 5 s. A prediction carries it as `deadline` (RFC 3339).

How a deadline ends a prediction (inference/worker/execution.py): past it before the run starts
(still queued, or its model still booting) the prediction ends `aborted`, without running, and
is not billed; past it while `predict()` runs, the run is canceled through the normal cancel path
and ends `canceled`, billed for the time it ran.

Who is told `aborted` (the rule, `as_seen_by`): every caller but the official clients that
break on it, which are told `canceled`, the status they know for "ended without finishing":
- the Python client `replicate-python/…` (1.0.7) validates `status` against the five older
  values and raises on any other, in `run`, `predictions.get`, `wait` and `list` alike
  (replicate-api.md §12.2 item 3);
- the JavaScript client `replicate-javascript/…` (1.4.0) lists `aborted` in its `Status` type,
  but its `wait()`, which `run()` polls through, stops only on succeeded, failed or canceled:
  an `aborted` prediction would be polled for ever.
Both name themselves in User-Agent on every request; those who call the API otherwise (curl,
plain HTTP, newer clients that send another User-Agent), webhooks and the dashboard see
`aborted`, as Replicate's API answers today. No client version is told apart: neither line has
a release that stops on `aborted`, and a later one still handles `canceled` as it always did.
"""

import re
from datetime import timedelta
from typing import TypeVar

from django.http import HttpRequest
from rest_framework.request import Request

from hosting.problems import InvalidRequest
from inference.models import Prediction
from inference.representations import PredictionJSON, TrainingJSON

Document = TypeVar("Document", PredictionJSON, TrainingJSON)

MINIMUM = timedelta(seconds=5)
# Durations as the OpenAPI document states them: whole numbers with no leading zero, each unit
# at most once and from the largest down (Go's order: `1h30m`, `2m15s`, `5500ms`), or a bare
# number of seconds. The digit caps keep every one well inside a datetime (under 1,000 years).
_H, _M = r"(?:0|[1-9][0-9]{0,5})h", r"(?:0|[1-9][0-9]{0,7})m"
_S, _MS = r"(?:0|[1-9][0-9]{0,9})s", r"(?:0|[1-9][0-9]{0,12})ms"
DURATION_PATTERN = (
    rf"^(?:0|[1-9][0-9]{{0,9}}|{_H}(?:{_M})?(?:{_S})?(?:{_MS})?|{_M}(?:{_S})?(?:{_MS})?|{_S}(?:{_MS})?|{_MS})$"
)


def _at_least_ms(thousands: int) -> str:
    """Milliseconds of at least `thousands` × 1000 (1 to 5), as `_MS` spells them."""
    return rf"(?:[{thousands}-9][0-9]{{3}}|[1-9][0-9]{{4,12}})ms"


# Those of at least MINIMUM, which the document states as the header's pattern (JSON Schema has no
# minimum for a text): some hours or minutes, or 5 s or more in seconds and milliseconds together.
# tests/hosting/test_openapi_contract.py holds it to the arithmetic of `parse_cancel_after`.
_SOME_H, _SOME_M = r"[1-9][0-9]{0,5}h", r"[1-9][0-9]{0,7}m"
CANCEL_AFTER_PATTERN = (
    r"^(?:[5-9]|[1-9][0-9]{1,9}"
    rf"|{_SOME_H}(?:{_M})?(?:{_S})?(?:{_MS})?"
    rf"|(?:0h)?{_SOME_M}(?:{_S})?(?:{_MS})?"
    rf"|(?:0h)?(?:0m)?(?:[5-9]|[1-9][0-9]{{1,9}})s(?:{_MS})?"
    rf"|(?:0h)?(?:0m)?(?:0s)?{_at_least_ms(5)}"
    rf"|(?:0h)?(?:0m)?1s{_at_least_ms(4)}"
    rf"|(?:0h)?(?:0m)?2s{_at_least_ms(3)}"
    rf"|(?:0h)?(?:0m)?3s{_at_least_ms(2)}"
    rf"|(?:0h)?(?:0m)?4s{_at_least_ms(1)}"
    r")$"
)
_PART = re.compile(r"([0-9]+)(h|ms|m|s)")
_UNIT_MILLISECONDS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}

# User-Agent prefixes of the official clients that cannot take `aborted` (see above).
CLIENTS_WITHOUT_ABORTED = ("replicate-python/", "replicate-javascript/")


def parse_cancel_after(value: str) -> timedelta:
    text = value.strip()  # HTTP drops a header value's surrounding spaces; so does a test client's here
    if not re.fullmatch(DURATION_PATTERN, text):
        raise InvalidRequest(
            f"Cancel-After {value!r} is not a duration like 30s, 5m, 1h30m or 5500ms.", field="Cancel-After"
        )
    if text.isdigit():
        milliseconds = int(text) * 1000
    else:
        milliseconds = sum(int(number) * _UNIT_MILLISECONDS[unit] for number, unit in _PART.findall(text))
    duration = timedelta(milliseconds=milliseconds)
    if duration < MINIMUM:
        raise InvalidRequest("Cancel-After must be at least 5 seconds.", field="Cancel-After", kind="minimum")
    return duration


def knows_aborted(request: HttpRequest | Request) -> bool:
    return not request.headers.get("User-Agent", "").startswith(CLIENTS_WITHOUT_ABORTED)


def as_seen_by(request: HttpRequest | Request, document: Document) -> Document:
    """A prediction's (or training's) JSON as `request`'s caller may be told it: `aborted`
    becomes `canceled` for the official clients that break on it."""
    if document["status"] == Prediction.Status.ABORTED and not knows_aborted(request):
        document["status"] = Prediction.Status.CANCELED
    return document
