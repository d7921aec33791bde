"""Cursor pagination with absolute `next`/`previous` URLs (the JS client mis-resolves
relative ones, replicate-api.md §5.5)."""

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from hosting.problems import InvalidRequest


def _encode(created_at, pk) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_text, pk = raw.split("|", 1)
        created_at = parse_datetime(created_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        created_at = None
    if created_at is None:
        raise InvalidRequest("The cursor is not valid.", field="cursor")
    return created_at, pk


def cursor_page(
    queryset: QuerySet,
    *,
    cursor: str | None,
    page_size: int,
    page_url: str,
    render: Callable[[Any], Mapping[str, object]],
) -> dict[str, Any]:
    """One page of a queryset ordered by (-created_at, -pk), newest first. `page_url` may carry
    a query string of its own (a search), which the `next` link keeps."""
    if cursor:
        created_at, pk = _decode(cursor)
        try:  # an integer pk refuses a tampered cursor's text here
            queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
        except (ValueError, TypeError, ValidationError) as exc:
            raise InvalidRequest("The cursor is not valid.", field="cursor") from exc
    rows = list(queryset[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    separator = "&" if "?" in page_url else "?"
    next_url = f"{page_url}{separator}cursor={_encode(rows[-1].created_at, rows[-1].pk)}" if has_more else None
    return {"previous": None, "next": next_url, "results": [render(row) for row in rows]}
