"""Cursor pagination with absolute `next`/`previous` URLs (the JS client mis-resolves
relative ones, replicate-api.md §5.5).

A cursor is `<created_at in microseconds since 1970>.<primary key>`, the position after which the
next page starts. Every text of that form is a position, so the OpenAPI document can state
exactly which cursors are valid (`cursor_pattern`) and the server takes every one it allows: a
cursor names no row, it only compares. The digit caps keep both halves in range: 16 digits of
microseconds reach the year 2286, 18 digits fit a bigint.
"""

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import IntegerField, Model, Q, QuerySet

from hosting.problems import InvalidRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Lists keyed by an integer (models, collections) and by a public id (predictions, files).
INTEGER_KEY_CURSOR = r"^[0-9]{1,16}\.[0-9]{1,18}$"
PUBLIC_ID_CURSOR = r"^[0-9]{1,16}\.[0-9a-z]{1,26}$"


def cursor_pattern(model: type[Model]) -> str:
    return INTEGER_KEY_CURSOR if isinstance(model._meta.pk, IntegerField) else PUBLIC_ID_CURSOR


def _encode(created_at: datetime, pk: object) -> str:
    return f"{(created_at - _EPOCH) // _MICROSECOND}.{pk}"


def _decode(cursor: str, pattern: str) -> tuple[datetime, str]:
    # fullmatch and [0-9], not match and \d: "1.2\n" and non-ASCII digits are not cursors.
    if not re.fullmatch(pattern, cursor):
        raise InvalidRequest("The cursor is not valid: use the `next` link of a page.", field="cursor")
    micros, pk = cursor.split(".", 1)
    return _EPOCH + int(micros) * _MICROSECOND, pk


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
    if cursor is not None:  # `?cursor=` too: an empty cursor is no position
        created_at, pk = _decode(cursor, cursor_pattern(queryset.model))
        queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(queryset[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    separator = "&" if "?" in page_url else "?"
    next_url = f"{page_url}{separator}cursor={_encode(rows[-1].created_at, rows[-1].pk)}" if has_more else None
    return {"previous": None, "next": next_url, "results": [render(row) for row in rows]}
