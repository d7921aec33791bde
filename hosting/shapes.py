"""Response shapes, declared once: TypedDicts beside the functions that build the JSON (mypy
checks that each function returns its shape). `@shape` registers one as a component schema of
the OpenAPI document (`hosting.openapi`), made by pydantic's JSON Schema generator.

Only pydantic here: modules low in the stack (hosting.problems) declare shapes too.
"""

from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter

# Field types of the shapes, with the formats clients rely on.
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="ISO 8601, UTC")]
Money = Annotated[
    str, Field(json_schema_extra={"format": "decimal", "example": "0.012345"}, description="US dollars, as a string")
]

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
    return shape_schemas(_SHAPES)
