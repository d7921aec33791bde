"""Request bodies held to their shapes (`hosting.shapes`): the TypedDict that the OpenAPI
document describes is the one the server checks, strictly (a number is not a string, a string
is not a boolean), so every body the document allows is taken and every other is refused.

Keys a shape does not name are dropped, as the document allows them.
"""

from functools import cache
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError

from hosting.problems import ApiProblem, InvalidRequest

Shape = TypeVar("Shape")


@cache
def _adapter(shape: Any) -> TypeAdapter:  # a TypedDict class: hashable, though mypy cannot tell
    return TypeAdapter(shape)


def refuse_unstorable_strings(value: Any, *, field: str = "body") -> None:
    """PostgreSQL stores neither a NUL character nor a lone surrogate (which JSON's \\u escapes
    allow, but which is no Unicode character, so not UTF-8): a 400, not a database error."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise InvalidRequest(f"Strings in `{field}` must not contain NUL characters.", field=field)
            try:
                item.encode()
            except UnicodeEncodeError as exc:
                raise InvalidRequest(
                    f"Strings in `{field}` must not contain lone UTF-16 surrogates (\\ud800-\\udfff).", field=field
                ) from exc


def validated(shape: type[Shape], data: Any) -> Shape:
    """`data` as `shape`, or a 400 problem whose `invalid_fields` names each field at fault.
    Strings PostgreSQL cannot store are refused in the keys the shape ignores too."""
    try:
        value = _adapter(cast(Any, shape)).validate_python(data, strict=True)
    except ValidationError as exc:
        fields = [
            {
                "type": error["type"],
                "field": ".".join(str(part) for part in error["loc"]) or "body",
                "description": error["msg"],
            }
            for error in exc.errors(include_url=False)
        ]
        detail = "; ".join(f"{field['field']}: {field['description']}" for field in fields)
        raise ApiProblem(400, "Invalid request", detail, invalid_fields=fields) from exc
    refuse_unstorable_strings(data)
    return value
