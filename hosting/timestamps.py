"""How every /v1 object writes a moment: ISO 8601 in UTC, microseconds, a `Z` suffix."""

from datetime import datetime


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")
