"""`Cancel-After: <duration>` (replicate-api.md §4.1): an automatic cancellation deadline
measured from creation, e.g. `30s`, `5m`, `1h30m`, or a bare number of seconds; at least 5 s."""

import re
from datetime import timedelta

from hosting.problems import InvalidRequest

MINIMUM = timedelta(seconds=5)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:h|ms|m|s))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def parse_cancel_after(value: str) -> timedelta:
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        seconds = float(text)
    elif _DURATION.match(text):
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    else:
        raise InvalidRequest(f"Cancel-After {value!r} is not a duration like 30s, 5m or 1h30m.", field="Cancel-After")
    try:
        duration = timedelta(seconds=seconds)
    except OverflowError as exc:  # past timedelta's 999999999 days (or an infinite float)
        raise InvalidRequest(f"Cancel-After {value!r} is too long.", field="Cancel-After", kind="maximum") from exc
    if duration < MINIMUM:
        raise InvalidRequest("Cancel-After must be at least 5 seconds.", field="Cancel-After", kind="minimum")
    return duration
