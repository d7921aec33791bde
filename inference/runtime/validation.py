"""Validate prediction input against a version's OpenAPI schema.

This runs on the request hot path, so a schema is compiled once into an
``InputValidator`` (a flat table of per-field rules) and reused.

Coercion policy: we follow JSON Schema, which is what Replicate's API and
coglet (Cog >= 0.17) enforce, not pydantic's lax mode that the legacy Cog
server used. Only lossless numeric conversions are made:

* an int is accepted for a ``number`` field and becomes a float (7 -> 7.0);
* an integral float is accepted for an ``integer`` field (7.0 -> 7).

Strings are never parsed into numbers or booleans ("7", "true"), booleans are
not numbers, and ``null`` is accepted only where the schema says ``nullable``.
Pydantic's lax mode would accept all of those; clients written for Replicate
never rely on it, and a strict rule keeps predictors from being handed a str
where the signature promised an int.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "InputValidationError",
    "InputValidator",
    "compile_input_validator",
    "resolve_property",
    "validate_input",
]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "a list",
}

# An absolute URL: scheme then something. Local paths ("/etc/passwd",
# "x.png") are refused so a client cannot point a Path input at the worker's
# own files.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S")


class InputValidationError(ValueError):
    """The input does not match the schema; ``invalid_fields`` lists every problem."""

    def __init__(self, invalid_fields: list[dict[str, str]]) -> None:
        self.invalid_fields = invalid_fields
        super().__init__("; ".join(f"{f['field']}: {f['description']}" for f in invalid_fields))


@dataclass(frozen=True, slots=True)
class _Rule:
    type: str | None  # None: any JSON value (an untyped schema such as Any)
    nullable: bool
    uri: bool
    minimum: float | None
    maximum: float | None
    min_length: int | None
    max_length: int | None
    pattern: re.Pattern[str] | None
    enum: tuple[Any, ...] | None
    items: _Rule | None
    any_of: tuple[_Rule, ...] | None = None  # a union's members (cog 0.23 unions)


def _resolve(prop: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Merge ``$ref`` / ``allOf: [{$ref}]`` targets (how choices are expressed) into one dict."""
    parts = [prop] if "$ref" in prop else []
    parts += prop.get("allOf", ())
    merged = {k: v for k, v in prop.items() if k not in ("$ref", "allOf")}
    for part in parts:
        ref = part.get("$ref")
        target = components.get(ref.rsplit("/", 1)[-1], {}) if ref else part
        merged = {**target, **merged}  # the property's own keywords win
    return merged


def resolve_property(prop: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A property with its ``$ref``/``allOf`` targets merged in (for readers such as forms)."""
    return _resolve(prop, components)


def _compile_rule(prop: dict[str, Any], components: dict[str, Any]) -> _Rule:
    prop = _resolve(prop, components)
    items = prop.get("items")
    pattern = prop.get("pattern")
    return _Rule(
        type=prop.get("type"),
        nullable=bool(prop.get("nullable")),
        uri=prop.get("format") == "uri",
        minimum=prop.get("minimum"),
        maximum=prop.get("maximum"),
        min_length=prop.get("minLength"),
        max_length=prop.get("maxLength"),
        pattern=re.compile(pattern) if pattern is not None else None,
        enum=tuple(prop["enum"]) if "enum" in prop else None,
        items=_compile_rule(items, components) if isinstance(items, dict) else None,
        any_of=tuple(_compile_rule(m, components) for m in prop["anyOf"]) if "anyOf" in prop else None,
    )


def _number(value: float) -> str:
    """1.0 -> "1" so messages read like the predictor's own ge=1."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _chars(n: int) -> str:
    return "1 character" if n == 1 else f"{n} characters"


_JSON_TYPES: dict[type, str] = {str: "string", list: "list", dict: "object"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _coerce(kind: str | None, value: Any) -> tuple[bool, Any]:
    """(ok, value) after the lossless coercions described in the module docstring."""
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, value
        try:
            value = float(value)
        except OverflowError:  # an int too large for a float
            return False, value
        return math.isfinite(value), value
    if kind == "string":
        return isinstance(value, str), value
    if kind == "boolean":
        return isinstance(value, bool), value
    if kind == "object":
        return isinstance(value, dict), value
    if kind == "array":
        return isinstance(value, list), value
    return True, value


# Unions. What is accepted is what JSON Schema's anyOf accepts, as coglet 0.23.1's server
# enforces it (measured: it never calls the SDK's check_input, so `int | str` takes 7.0).
# Which member makes the value follows the cog 0.23 SDK (cog/_adt.py FieldType.normalize):
# members matching the JSON type exactly first, then bool, integer, number, string, object,
# lists after single values; a member takes only its own type, except that a number takes an
# integer (3 -> 3.0). Only when no member takes a value so does an integer member take an
# integral float, as JSON Schema allows (7.0 -> 7, like a plain integer input).
_UNION_PRIORITY = {"boolean": 0, "integer": 1, "number": 2, "string": 3, "object": 4}
_PLURALS = {"boolean": "booleans", "integer": "integers", "number": "numbers", "string": "strings", "object": "objects"}


def _exact_type(kind: str | None, value: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    python_type = {"boolean": bool, "number": float, "string": str, "object": dict, "array": list}.get(kind or "")
    return python_type is not None and isinstance(value, python_type)


def _takes(member: _Rule, value: Any, lenient: bool = False) -> bool:
    if member.type == "array":
        items = member.items
        return isinstance(value, list) and (items is None or all(_takes(items, v, lenient) for v in value))
    if lenient and member.type == "integer" and type(value) is float:
        return value.is_integer()
    if member.type == "number":
        return type(value) in (int, float)
    if member.type == "object":
        return isinstance(value, dict)
    return type(value) is {"boolean": bool, "integer": int, "string": str}.get(member.type or "")


def _union_order(member: _Rule) -> int:
    element = member.items if member.type == "array" and member.items is not None else member
    return (10 if member.type == "array" else 0) + _UNION_PRIORITY.get(element.type or "", 100)


def _member_name(member: _Rule) -> str:
    if member.type == "array" and member.items is not None:
        return f"a list of {_PLURALS.get(member.items.type or '', 'values')}"
    return _TYPE_NAMES.get(member.type or "", "a value")


def _union_name(members: tuple[_Rule, ...]) -> str:
    return " or ".join(_member_name(m) for m in members)


def _check_union(members: tuple[_Rule, ...], value: Any, label: str, errors: list[dict[str, str]]) -> Any:
    """The value as the first member that takes it makes it (see the comment above)."""
    ordered = sorted(members, key=lambda m: (not _exact_type(m.type, value), _union_order(m)))
    first_errors: list[dict[str, str]] | None = None
    for lenient, member in [(lenient, member) for lenient in (False, True) for member in ordered]:
        if not _takes(member, value, lenient):
            continue
        attempt: list[dict[str, str]] = []
        cleaned = _check(member, value, label, attempt)
        if not attempt:
            return cleaned
        first_errors = first_errors or attempt
    if first_errors is None:
        description = f"{label} must be {_union_name(members)}, not {_json_type(value)}"
        first_errors = [{"type": "type", "field": f"input.{label}", "description": description}]
    errors.extend(first_errors)
    return value


def _check(rule: _Rule, value: Any, label: str, errors: list[dict[str, str]]) -> Any:
    """Return the coerced value, appending one error per violated keyword to ``errors``."""

    def fail(kind: str, description: str) -> None:
        errors.append({"type": kind, "field": f"input.{label}", "description": description})

    if value is None:
        if not (rule.nullable or (rule.type is None and rule.any_of is None)):
            expected = _union_name(rule.any_of) if rule.any_of else _TYPE_NAMES.get(rule.type or "", rule.type)
            fail("type", f"{label} must be {expected}, not null")
        return value
    if rule.any_of is not None:
        return _check_union(rule.any_of, value, label, errors)
    ok, value = _coerce(rule.type, value)
    if not ok and rule.type is not None:  # (a rule without a type refuses nothing)
        expected = _TYPE_NAMES.get(rule.type, rule.type)
        fail("type", f"{label} must be {expected}, not {_json_type(value)}")
        return value
    if rule.items is not None and isinstance(value, list):
        value = [_check(rule.items, v, f"{label}.{i}", errors) for i, v in enumerate(value)]
    if rule.minimum is not None and value < rule.minimum:
        fail("minimum", f"{label} must be greater than or equal to {_number(rule.minimum)}")
    if rule.maximum is not None and value > rule.maximum:
        fail("maximum", f"{label} must be less than or equal to {_number(rule.maximum)}")
    if rule.min_length is not None and len(value) < rule.min_length:
        fail("min_length", f"{label} must be at least {_chars(rule.min_length)} long")
    if rule.max_length is not None and len(value) > rule.max_length:
        fail("max_length", f"{label} must be at most {_chars(rule.max_length)} long")
    if rule.pattern is not None and not rule.pattern.search(value):
        fail("pattern", f"{label} does not match pattern {rule.pattern.pattern!r}")
    if rule.uri and not _URL.match(value):
        fail("format", f"{label} must be a URL (https://... or data:...)")
    if rule.enum is not None and value not in rule.enum:
        allowed = ", ".join(json.dumps(v) for v in rule.enum)
        fail("enum", f"{label} must be one of: {allowed}")
    return value


class InputValidator:
    """Compiled form of a schema's ``Input``; call it with a payload to get the cleaned input."""

    __slots__ = ("_rules", "_required")

    def __init__(self, schema: dict[str, Any], *, component: str = "Input") -> None:
        # A full OpenAPI document, or a bare Input schema (no $ref targets then). `component`:
        # "TrainingInput" checks a training's input.
        components = schema.get("components", {}).get("schemas", {})
        input_schema = components.get(component, schema)
        self._rules = {
            name: _compile_rule(prop, components) for name, prop in input_schema.get("properties", {}).items()
        }
        self._required = frozenset(input_schema.get("required", ()))

    def __call__(self, payload: Any) -> dict[str, Any]:
        """Return the fields of ``payload``, coerced; defaults are left to the predictor.

        A key the schema does not name is refused, as the hosted service refuses it: a typo such
        as ``max_token`` would otherwise run the prediction with the default and bill for it.
        (cog 0.23.1 on its own drops such keys: its check_input ignores them and coglet strips
        them with the log line "Stripped unknown input fields".)"""
        if not isinstance(payload, dict):
            raise InputValidationError([{"type": "type", "field": "input", "description": "input must be an object"}])
        errors: list[dict[str, str]] = []
        cleaned: dict[str, Any] = {}
        for name, rule in self._rules.items():
            if name in payload:
                cleaned[name] = _check(rule, payload[name], name, errors)
            elif name in self._required:
                errors.append({"type": "required", "field": f"input.{name}", "description": f"{name} is required"})
        errors.extend(
            {
                "type": "additional_property",
                "field": f"input.{name}",
                "description": f"Additional property {name} is not allowed: {self._inputs_named()}",
            }
            for name in payload
            if name not in self._rules
        )
        if errors:
            raise InputValidationError(errors)
        return cleaned

    def _inputs_named(self) -> str:
        if not self._rules:
            return "this model takes no input"
        return "the inputs are " + ", ".join(sorted(self._rules))

    def map_uris(self, cleaned: dict[str, Any], replace: Callable[[str, str], Any]) -> dict[str, Any]:
        """A copy of ``cleaned`` with each file input (``format: uri``, alone or in a list)
        replaced by ``replace(label, value)``; labels read like ``image`` or ``images.0``."""
        result = dict(cleaned)
        for name, value in cleaned.items():
            rule = self._rules.get(name)
            if rule is None:
                continue
            if rule.uri and isinstance(value, str):
                result[name] = replace(name, value)
            elif rule.items is not None and rule.items.uri and isinstance(value, list):
                result[name] = [
                    replace(f"{name}.{i}", item) if isinstance(item, str) else item for i, item in enumerate(value)
                ]
        return result

    def check_value(self, name: str, value: Any) -> list[dict[str, str]]:
        """The errors one value would get as input ``name`` (used to vet schema defaults)."""
        errors: list[dict[str, str]] = []
        _check(self._rules[name], value, name, errors)
        return errors


# Keyed by id(); the schema is kept in the entry so the id cannot be reused by
# another dict while cached. Schemas are treated as immutable once validated.
_CACHE: dict[int, tuple[dict[str, Any], InputValidator]] = {}
_CACHE_SIZE = 256


def compile_input_validator(schema: dict[str, Any]) -> InputValidator:
    """The validator for ``schema``, compiled once per schema object."""
    hit = _CACHE.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    validator = InputValidator(schema)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()  # crude, but needs no lock and the hot set refills at once
    _CACHE[id(schema)] = (schema, validator)
    return validator


def validate_input(schema: dict[str, Any], payload: Any) -> dict[str, Any]:
    """Validate ``payload`` against ``schema`` (an OpenAPI document); raise InputValidationError."""
    return compile_input_validator(schema)(payload)
