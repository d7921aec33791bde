"""The playground form: a version's input schema as form fields, and posted form data back
into prediction input.

Pure functions over the OpenAPI document; no Django forms, so every Cog input type maps in one
table here and the constraints themselves are checked by `runtime.validation`, the same code
the API uses.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from inference.runtime.validation import InputValidationError, InputValidator, resolve_property, validate_input

Widget = Literal[
    "text", "textarea", "password", "integer", "number", "checkbox", "select", "file", "files", "list", "json"
]

# Files travel inside the input as data: URIs, so keep them small enough for a JSON column.
MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    widget: Widget
    required: bool
    help_text: str = ""
    default: Any = None
    has_default: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[Any, ...] = ()
    item_type: str | None = None
    deprecated: bool = False

    @property
    def initial(self) -> str:
        """The default as the text a form control shows."""
        if not self.has_default or self.default is None:
            return ""
        if self.widget == "list":
            return "\n".join(str(item) for item in self.default)
        if self.widget == "json":
            return json.dumps(self.default, indent=2)
        return str(self.default)

    @property
    def type_label(self) -> str:
        """The input's type as the schema names it, shown beside the label."""
        if self.widget == "list":
            return f"{self.item_type}[]"
        return {
            "text": "string",
            "textarea": "string",
            "password": "secret",
            "checkbox": "boolean",
            "select": "choice",
            "file": "file",
            "files": "file[]",
        }.get(self.widget, self.widget)

    @property
    def constraints(self) -> str:
        """The schema's limits on the value, in words, for the schema table."""
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(str(choice) for choice in self.choices))
        if self.minimum is not None:
            parts.append(f"≥ {self.minimum}")
        if self.maximum is not None:
            parts.append(f"≤ {self.maximum}")
        if self.min_length is not None:
            parts.append(f"at least {self.min_length} character{'' if self.min_length == 1 else 's'}")
        if self.max_length is not None:
            parts.append(f"at most {self.max_length} character{'' if self.max_length == 1 else 's'}")
        if self.pattern:
            parts.append(f"matches {self.pattern}")
        return "; ".join(parts)

    @property
    def step(self) -> str:
        return "1" if self.widget == "integer" else "any"


def _tidy(number: float | None) -> float | int | None:
    """1.0 -> 1: Cog writes ge=1 as 1.0, which reads oddly in a form."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _widget(prop: dict[str, Any]) -> tuple[Widget, str | None]:
    kind = prop.get("type")
    if "enum" in prop:
        return "select", None
    if kind == "boolean":
        return "checkbox", None
    if kind in ("integer", "number"):
        return kind, None
    if kind == "string":
        if prop.get("format") == "uri":
            return "file", None
        if prop.get("format") == "password" or prop.get("x-cog-secret"):
            return "password", None
        # A one-line input lets the browser check a pattern too; free text (prompts) runs long.
        return ("text" if "pattern" in prop else "textarea"), None
    if kind == "array":
        items = prop.get("items") or {}
        if items.get("format") == "uri":
            return "files", "string"
        if items.get("type") in ("string", "integer", "number"):
            return "list", items["type"]
    return "json", None


def form_fields(schema: dict[str, Any], *, component: str = "Input") -> list[FormField]:
    """The fields of a version's input form, in the predictor's parameter order (`x-order`);
    `component="TrainingInput"`: of its training form (inference.web.trainings)."""
    components = schema.get("components", {}).get("schemas", {})
    input_schema = components.get(component, {})
    required = set(input_schema.get("required", ()))
    fields = []
    properties = input_schema.get("properties", {})
    ordered = sorted(properties.items(), key=lambda item: (item[1].get("x-order", math.inf), item[0]))
    for name, raw in ordered:
        prop = resolve_property(raw, components)
        widget, item_type = _widget(prop)
        fields.append(
            FormField(
                name=name,
                # A choice's own title is its enum component's (the bare name); Cog title-cases names.
                label=raw.get("title") or name.replace("_", " ").title(),
                widget=widget,
                required=name in required,
                help_text=raw.get("description") or "",
                default=prop.get("default"),
                has_default="default" in prop,
                minimum=_tidy(prop.get("minimum")),
                maximum=_tidy(prop.get("maximum")),
                min_length=prop.get("minLength"),
                max_length=prop.get("maxLength"),
                pattern=prop.get("pattern"),
                choices=tuple(prop.get("enum", ())),
                item_type=item_type,
                deprecated=bool(prop.get("deprecated")),
            )
        )
    return fields


class PlaygroundInputError(ValueError):
    """Form data that cannot become valid input; `errors` maps each field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))


class _Unparsable(ValueError):
    pass


def _number(text: str, kind: str | None) -> int | float:
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        raise _Unparsable("Enter a whole number." if kind == "integer" else "Enter a number.") from None


def _data_uri(upload: Any) -> str:
    if upload.size > MAX_FILE_BYTES:
        raise _Unparsable(f"Files sent from the playground may be at most {MAX_FILE_BYTES // 2**20} MB.")
    content_type = getattr(upload, "content_type", None) or "application/octet-stream"
    return f"data:{content_type};base64,{base64.b64encode(upload.read()).decode('ascii')}"


_ABSENT = object()


def _parse(field: FormField, data: Mapping[str, Any], files: Mapping[str, Any]) -> Any:
    """The typed value of one field, or _ABSENT when left empty (the predictor's default applies)."""
    if field.widget == "checkbox":
        # An unchecked box sends nothing; the form shows every box, so nothing means False.
        return field.name in data
    if field.widget == "file":
        upload = files.get(field.name)
        return _data_uri(upload) if upload else _ABSENT
    if field.widget == "files":
        uploads = files.getlist(field.name) if hasattr(files, "getlist") else []
        return [_data_uri(upload) for upload in uploads] or _ABSENT
    text = data.get(field.name, "")
    if text == "":
        return _ABSENT
    if field.widget == "select":
        for choice in field.choices:
            if str(choice) == text:
                return choice
        raise _Unparsable("Select one of the choices.")
    if field.widget in ("integer", "number"):
        return _number(text.strip(), field.widget)
    if field.widget == "list":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if field.item_type in ("integer", "number"):
            return [_number(line, field.item_type) for line in lines]
        return lines or _ABSENT
    if field.widget == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise _Unparsable("Enter valid JSON.") from None
    return text


def field_errors(invalid_fields: list[dict[str, str]]) -> dict[str, list[str]]:
    """Validation problems (`input.name`, or the name alone) as messages per form field."""
    errors: dict[str, list[str]] = {}
    for problem in invalid_fields:
        name = problem["field"].split(".")[1] if "." in problem["field"] else problem["field"]
        errors.setdefault(name, []).append(problem["description"])
    return errors


def input_from_form(
    schema: dict[str, Any], data: Mapping[str, Any], files: Mapping[str, Any], *, component: str = "Input"
) -> dict[str, Any]:
    """Prediction input from posted form data, checked against the schema at once.

    Raises PlaygroundInputError naming every field that is wrong, so the form can show each
    message next to its field (the one that cannot be parsed with the others that the schema
    refuses). `services.prediction_create` validates the input again, as it does for the API."""
    errors: dict[str, list[str]] = {}
    payload: dict[str, Any] = {}
    for field in form_fields(schema, component=component):
        try:
            value = _parse(field, data, files)
        except _Unparsable as exc:
            errors[field.name] = [str(exc)]
            continue
        if value is not _ABSENT:
            payload[field.name] = value
    unparsable = set(errors)
    try:
        if component == "Input":
            cleaned = validate_input(schema, payload)
        else:
            cleaned = InputValidator(schema, component=component)(payload)
    except InputValidationError as exc:
        for name, messages in field_errors(exc.invalid_fields).items():
            if name not in unparsable:  # "is required" adds nothing to "Enter a number."
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise PlaygroundInputError(errors)
    return cleaned


def output_display(schema: dict[str, Any]) -> Literal["concatenate", "iterator", "single"]:
    """How the page shows output: streamed text joined up, a list streamed item by item, or one value."""
    output = schema.get("components", {}).get("schemas", {}).get("Output", {})
    if output.get("type") == "array" and output.get("x-cog-array-type") == "iterator":
        return "concatenate" if output.get("x-cog-array-display") == "concatenate" else "iterator"
    return "single"
