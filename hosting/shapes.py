"""Request and response shapes, declared once: TypedDicts beside the functions that build the
JSON (mypy checks that each function returns its shape) or the endpoints that read it
(`hosting.request_bodies.validated` holds a body to its shape). `@shape` registers one as a
component schema of the OpenAPI document (`hosting.openapi`), made by pydantic's JSON Schema
generator, so what the document says and what the server checks cannot drift apart.

Only pydantic here: modules low in the stack (hosting.problems) declare shapes too.
"""

from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, WithJsonSchema, with_config
from pydantic.json_schema import JsonDict

# Field types of the shapes, with the formats clients rely on.
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="ISO 8601, UTC")]
Money = Annotated[
    str, Field(json_schema_extra={"format": "decimal", "example": "0.012345"}, description="US dollars, as a string")
]

# PostgreSQL cannot store a NUL character in text or JSON, so the API refuses strings holding one.
# Written with `\x00`, which Python's, Rust's and ECMAScript's regular expressions all read alike.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]

# Any JSON value in which no string, object keys included, holds a NUL character (the
# component `JsonValue`, which refers to itself). JSON Schema has no "no NUL anywhere" of its own.
_JSON_VALUE_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_OBJECT = {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": _JSON_VALUE_REF}
_JSON_VALUE = {
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": _JSON_VALUE_REF},
        JSON_OBJECT,
    ]
}
# pydantic follows each $ref it meets while it makes a schema, and knows none of the document's
# components: in a shape, `{"$component": name}` stands for one, and `_tidy` makes it the $ref.
JsonObject = Annotated[
    dict[str, Any], WithJsonSchema({**JSON_OBJECT, "additionalProperties": {"$component": "JsonValue"}})
]

# A request shape whose server refuses a NUL in any string of the body, in the keys it ignores
# too: `@no_nul_anywhere` makes the document say so of every key and value it does not name.
_ANY_KEY_NO_NUL: JsonDict = {"propertyNames": {"pattern": NO_NUL}, "additionalProperties": {"$component": "JsonValue"}}
no_nul_anywhere = with_config(ConfigDict(json_schema_extra=_ANY_KEY_NO_NUL))
# A PATCH body's shape: `@no_nul_anywhere`, and at least one property, one thing to change.
# (One config: a second `with_config` on the same shape would replace the first.)
partial_update = with_config(ConfigDict(json_schema_extra={"minProperties": 1, **_ANY_KEY_NO_NUL}))


def _whole_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# The last metadata of an integer field of a request body, `Annotated[int, Field(...), WHOLE]`:
# JSON Schema's `integer` is any number with no fraction, so 3.0 is one (strict validation alone
# would refuse it; 3.5, true and "3" stay refused). Last, or pydantic loses the Field's bounds
# from the document.
WHOLE = BeforeValidator(_whole_number)


_SUFFIX = "JSON"  # PredictionJSON (the TypedDict) is the component `Prediction`
_SHAPES: list[type] = []

Shape = TypeVar("Shape", bound=type)


def shape(typed_dict: Shape) -> Shape:
    """Register a TypedDict as a component schema of the document (named without `JSON`)."""
    _SHAPES.append(typed_dict)
    return typed_dict


def _component_name(name: str) -> str:
    return name.removesuffix(_SUFFIX)


def _tidy(schema: Any) -> Any:
    """pydantic's JSON Schema as a component: refs renamed, its generated `title`s dropped."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tidy: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in ("properties", "$defs"):  # maps of names to schemas: a name may be "title"
            tidy[key] = {name: _tidy(item) for name, item in value.items()}
        elif key == "$ref":
            tidy[key] = f"#/components/schemas/{_component_name(value.rsplit('/', 1)[-1])}"
        elif key == "$component":
            tidy["$ref"] = f"#/components/schemas/{value}"
        else:
            tidy[key] = _tidy(value)
    return tidy


def shape_schemas(shapes: Iterable[type]) -> dict[str, Any]:
    """The component schemas of `shapes` and of every shape they contain."""
    components: dict[str, Any] = {}
    for typed_dict in shapes:
        document = TypeAdapter(typed_dict).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, nested in document.pop("$defs", {}).items():
            components[_component_name(name)] = _tidy(nested)
        components[_component_name(typed_dict.__name__)] = _tidy(document)
    return components


def registered_schemas() -> dict[str, Any]:
    return {"JsonValue": _JSON_VALUE, **shape_schemas(_SHAPES)}
