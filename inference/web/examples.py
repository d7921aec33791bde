"""Copy-paste snippets on a model page: the official Python client and curl, pointed at this
server, with an input made from the version's defaults."""

import json
import shlex
from typing import Any

from inference.web.playground import FormField

# Placeholders for required inputs without a default; files are sent as URLs.
_PLACEHOLDERS = {
    "file": "https://example.com/input.png",
    "files": ["https://example.com/input.png"],
    "checkbox": True,
    "list": [],
    "json": {},
}


def example_input(fields: list[FormField]) -> dict[str, Any]:
    """Required inputs (their default, the field's minimum, or a placeholder) plus every
    other input that has a non-null default, so the snippet shows what can be set."""
    example: dict[str, Any] = {}
    for field in fields:
        if field.deprecated or field.widget == "password":
            continue
        if field.has_default and field.default is not None:
            example[field.name] = field.default
        elif field.required:
            if field.choices:
                example[field.name] = field.choices[0]
            elif field.widget in ("integer", "number"):
                example[field.name] = field.minimum if field.minimum is not None else 0
            else:
                example[field.name] = _PLACEHOLDERS.get(field.widget, "...")
    return example


def _python_literal(value: Any, indent: int) -> str:
    """`value` as Python source, laid out like the JSON an API reader expects."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict) and value:
        items = "".join(
            f"{inner}{json.dumps(str(key))}: {_python_literal(item, indent + 4)},\n" for key, item in value.items()
        )
        return "{\n" + items + pad + "}"
    if isinstance(value, list) and value:
        items = "".join(f"{inner}{_python_literal(item, indent + 4)},\n" for item in value)
        return "[\n" + items + pad + "]"
    if isinstance(value, (bool, type(None), int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a Python string literal too
    return repr(value)  # empty dict or list


def python_example(*, model_ref: str, input: dict[str, Any], streams: bool) -> str:
    if streams:
        call = (
            f'for event in replicate.stream(\n    "{model_ref}",\n    input={_python_literal(input, 4)},\n):\n'
            '    print(str(event), end="")\n'
        )
    else:
        call = (
            f'output = replicate.run(\n    "{model_ref}",\n    input={_python_literal(input, 4)},\n)\nprint(output)\n'
        )
    return f"import replicate\n\n{call}"


def shell_environment(*, origin: str) -> str:
    return f"export REPLICATE_BASE_URL={origin}\nexport REPLICATE_API_TOKEN=r8_...  # from your API tokens page\n"


def curl_example(*, origin: str, model_ref: str, input: dict[str, Any], version: str | None = None) -> str:
    """`version` runs that version (through /v1/predictions); without it, the model's latest."""
    if version:
        url, body = f"{origin}/v1/predictions", {"version": version, "input": input}
    else:
        url, body = f"{origin}/v1/models/{model_ref}/predictions", {"input": input}
    return (
        f"curl -s -X POST {url} \\\n"
        '  -H "Authorization: Bearer $REPLICATE_API_TOKEN" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        '  -H "Prefer: wait" \\\n'
        f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False))}\n"
    )
