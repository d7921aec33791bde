"""Schema generation: expected values below were produced by cog 0.16.12's own generator
(``python -m cog.command.openapi_schema``) for the same signatures, unless a case says otherwise."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inference.runtime.schema import (
    PredictorError,
    generate_openapi_schema,
    load_predictor,
    output_is_iterator,
    predict_method,
)

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "tests" / "fixtures" / "cog-schema-example"  # copy of shared/reference/cog-schema-example
UNIONS = REPO / "tests" / "fixtures" / "cog-unions"  # what cog 0.23.1's SDK makes of union and Opaque inputs

HEADER = """\
from typing import Annotated, Any, AsyncIterator, Dict, Iterator, List, Optional
from cog import (AsyncConcatenateIterator, BaseModel, BasePredictor, BaseRunner,
                 ConcatenateIterator, File, Input, Opaque, Path, Secret)
"""


def write(tmp_path: Path, body: str, name: str = "predict.py") -> Path:
    body = textwrap.dedent(body)
    future = "from __future__ import annotations\n"
    if body.startswith(future):  # must stay the file's first statement
        body = future + HEADER + body[len(future) :]
    else:
        body = HEADER + body
    (tmp_path / name).write_text(body)
    return tmp_path


def schema_for(tmp_path: Path, body: str, ref: str = "predict.py:Predictor") -> dict:
    return generate_openapi_schema(load_predictor(write(tmp_path, body), ref))


def predictor_with(signature: str, returns: str = "str", prelude: str = "") -> str:
    return f"""
{prelude}
class Predictor(BasePredictor):
    def predict(self, {signature}) -> {returns}:
        raise NotImplementedError
"""


def assert_same(actual, expected):
    """Equal, and in the same key order as the legacy generator writes them."""
    assert actual == expected
    assert json.dumps(actual) == json.dumps(expected)


def components(schema: dict) -> dict:
    return schema["components"]["schemas"]


# ---------------------------------------------------------------- golden file


def golden_predict_schema() -> dict:
    """cog 0.16.12's schema of the example, less what only training has.

    The example's cog.yaml also sets `train: train.py:train`, so the golden file carries the
    /trainings routes and Training* components, which generate_openapi_schema adds only when
    given the trainer (tests/inference/runtime/test_training_schema.py compares the whole file).
    """
    golden = json.loads((EXAMPLE / "openapi_schema.cog-0.16.12.json").read_text())
    golden["paths"] = {p: v for p, v in golden["paths"].items() if not p.startswith("/trainings")}
    golden["components"]["schemas"] = {n: v for n, v in components(golden).items() if not n.startswith("Training")}
    return golden


def test_golden_schema_matches_cog_0_16_12():
    schema = generate_openapi_schema(load_predictor(EXAMPLE, "predict.py:Predictor"))

    assert_same(schema, golden_predict_schema())


# ---------------------------------------------------------------- cog 0.23 unions and cog.Opaque


@pytest.fixture(scope="module")
def unions_golden() -> dict:
    return json.loads((UNIONS / "cog-0.23.1.json").read_text())


def test_union_and_opaque_inputs_match_cog_0_23_1(unions_golden):
    schema = generate_openapi_schema(load_predictor(UNIONS, "predict.py:Runner"))
    input_schema = components(schema)["Input"]
    properties = input_schema["properties"]

    assert list(properties) == list(unions_golden["inputs"])
    for name, cog_field in unions_golden["inputs"].items():
        prop = properties[name]
        # The type keywords are exactly cog's FieldType.json_type(); nullable is where Cog puts
        # it for a union, and beside the type (the legacy layout) for anything else.
        type_keywords = {k: v for k, v in prop.items() if k not in ("title", "x-order", "default", "description")}
        expected = dict(cog_field["json_type"])
        if cog_field["repetition"].startswith("OPTIONAL"):
            expected["nullable"] = True
        assert type_keywords == expected, name
        assert prop["x-order"] == cog_field["order"]
        assert prop.get("default") == cog_field["default"]
        assert prop.get("description") == cog_field["description"]
        assert prop["title"] == name.replace("_", " ").title()
    cog_required = [
        name
        for name, f in unions_golden["inputs"].items()
        if f["repetition"] in ("REQUIRED", "REPEATED") and f["default"] is None
    ]
    assert input_schema["required"] == cog_required
    assert components(schema)["Output"] == unions_golden["output"]


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("x: bool | List[str]", {"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}]}),
        ("x: Dict[str, Any] | str", {"anyOf": [{"type": "object"}, {"type": "string"}]}),
        ("x: Annotated[Dict, Opaque] | int", {"anyOf": [{"type": "object"}, {"type": "integer"}]}),
        ("x: Annotated[Optional[Settings], Opaque] = None", {"type": "object", "nullable": True}),
        ("x: Annotated[List[Settings], Opaque]", {"items": {"type": "object"}, "type": "array"}),
        (
            "x: Optional[Annotated[List[Settings], Opaque]] = None",
            {"items": {"type": "object"}, "type": "array", "nullable": True},
        ),
        ("x: Annotated[str, 'a note'] = 'z'", {"type": "string", "default": "z"}),
    ],
)
def test_union_and_opaque_shapes(tmp_path, signature, expected):
    schema = schema_for(tmp_path, predictor_with(signature, prelude="class Settings:\n    pass\n"))
    (prop,) = components(schema)["Input"]["properties"].values()
    assert {k: v for k, v in prop.items() if k not in ("title", "x-order")} == expected


def test_opaque_output(tmp_path):
    schema = schema_for(
        tmp_path, predictor_with("x: str", "Annotated[Settings, Opaque]", "class Settings:\n    pass\n")
    )
    assert components(schema)["Output"] == {"type": "object", "title": "Output"}


# ---------------------------------------------------------------- inputs

INPUT_CASES = [
    ("x: int", {"type": "integer", "title": "X", "x-order": 0}),
    ("x: int = 5", {"type": "integer", "title": "X", "default": 5, "x-order": 0}),
    ("x: float = 3", {"type": "number", "title": "X", "default": 3, "x-order": 0}),
    ("x: bool = True", {"type": "boolean", "title": "X", "default": True, "x-order": 0}),
    ("api_key_2x: str = 'z'", {"type": "string", "title": "Api Key 2X", "default": "z", "x-order": 0}),
    ("x: str = Input(default=None)", {"type": "string", "title": "X", "x-order": 0}),
    (
        "x: Optional[str] = None",
        {"title": "X", "x-order": 0, "type": "string", "nullable": True},
    ),
    (
        "x: Optional[float] = Input(default=0.5, ge=0.0, le=1.0, description='U')",
        {
            "title": "X",
            "description": "U",
            "default": 0.5,
            "x-order": 0,
            "type": "number",
            "maximum": 1.0,
            "minimum": 0.0,
            "nullable": True,
        },
    ),
    (
        "x: Optional[int] = Input(default=3, ge=1, le=5, deprecated=True, description='d')",
        {
            "title": "X",
            "description": "d",
            "default": 3,
            "deprecated": True,
            "x-order": 0,
            "type": "integer",
            "maximum": 5.0,
            "minimum": 1.0,
            "nullable": True,
        },
    ),
    (
        "x: float = Input(ge=0, le=1)",
        {"type": "number", "maximum": 1.0, "minimum": 0.0, "title": "X", "x-order": 0},
    ),
    (
        "x: str = Input(default=None, min_length=1, max_length=3, regex='^a', deprecated=True)",
        {
            "type": "string",
            "maxLength": 3,
            "minLength": 1,
            "pattern": "^a",
            "title": "X",
            "deprecated": True,
            "x-order": 0,
        },
    ),
    ("x: Path = Input()", {"type": "string", "format": "uri", "title": "X", "x-order": 0}),
    ("x: File = Input()", {"type": "string", "format": "uri", "title": "X", "x-order": 0}),
    (
        "x: Path = Input(default='https://x.com/a.png')",
        {"type": "string", "format": "uri", "title": "X", "default": "https://x.com/a.png", "x-order": 0},
    ),
    (
        "x: Optional[Path] = Input(description='c')",
        {"title": "X", "description": "c", "x-order": 0, "type": "string", "format": "uri", "nullable": True},
    ),
    (
        "x: Secret = Input(default='abc')",
        {
            "type": "string",
            "format": "password",
            "title": "X",
            "default": "abc",
            "writeOnly": True,
            "x-cog-secret": True,
            "x-order": 0,
        },
    ),
    (
        "x: Secret = Input(default=None, deprecated=True, description='d')",
        {
            "type": "string",
            "format": "password",
            "title": "X",
            "description": "d",
            "deprecated": True,
            "writeOnly": True,
            "x-cog-secret": True,
            "x-order": 0,
        },
    ),
    (
        "x: Optional[Secret] = Input(description='d', default='zz')",
        {
            "title": "X",
            "description": "d",
            "default": "zz",
            "x-order": 0,
            "type": "string",
            "format": "password",
            "writeOnly": True,
            "x-cog-secret": True,
            "nullable": True,
        },
    ),
    (
        "x: List[int] = Input(default=[1, 2])",
        {"items": {"type": "integer"}, "type": "array", "title": "X", "default": [1, 2], "x-order": 0},
    ),
    (
        "x: list[Path] = Input(description='paths')",
        {
            "items": {"type": "string", "format": "uri"},
            "type": "array",
            "title": "X",
            "description": "paths",
            "x-order": 0,
        },
    ),
    (
        "x: List[Secret] = Input(description='d')",
        {
            "items": {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True},
            "type": "array",
            "title": "X",
            "description": "d",
            "x-order": 0,
        },
    ),
    (
        "x: Optional[List[str]] = None",
        {"title": "X", "x-order": 0, "items": {"type": "string"}, "type": "array", "nullable": True},
    ),
    (
        "x: str = Input(choices=['a', 'b'], description='d')",
        {"description": "d", "x-order": 0, "allOf": [{"$ref": "#/components/schemas/x"}]},
    ),
    (
        "x: int = Input(default=3, choices=[1, 3], deprecated=True)",
        {"default": 3, "deprecated": True, "x-order": 0, "allOf": [{"$ref": "#/components/schemas/x"}]},
    ),
    # Not in cog 0.16 (it rejects dict inputs); cog 0.23 accepts them as JSON objects.
    ("x: dict = Input(default=None)", {"additionalProperties": True, "type": "object", "title": "X", "x-order": 0}),
    # cog 0.23 applies a List's constraints to each element; 0.16 emitted garbage ("ge": 1).
    (
        "x: List[int] = Input(default=[2], ge=1, le=5)",
        {
            "items": {"type": "integer", "maximum": 5.0, "minimum": 1.0},
            "type": "array",
            "title": "X",
            "default": [2],
            "x-order": 0,
        },
    ),
    # cog 0.23's `accept` (the static generator's x-cog-accept); 0.16 had no such option.
    (
        "x: Path = Input(accept='image/*')",
        {"type": "string", "format": "uri", "title": "X", "x-cog-accept": "image/*", "x-order": 0},
    ),
]


@pytest.mark.parametrize(("signature", "expected"), INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_input_property(tmp_path, signature, expected):
    schema = schema_for(tmp_path, predictor_with(signature))
    (prop,) = components(schema)["Input"]["properties"].values()
    assert_same(prop, expected)


@pytest.mark.parametrize(
    ("signature", "required"),
    [
        ("a: int, b: Path = Input(description='no default')", ["a", "b"]),
        ("a: int = 1, b: str = Input(default=None)", None),
        # Optional without a default: pydantic listed it, then Cog took it out.
        ("a: Optional[str]", []),
        ("a: Optional[int] = Input(ge=1), b: int = 2", []),
        ("a: Optional[int] = Input(default=None, ge=1)", None),
        ("a: str = Input(description='x', default=None), b: str = Input(description='y')", ["b"]),
    ],
)
def test_required_inputs(tmp_path, signature, required):
    schema = components(schema_for(tmp_path, predictor_with(signature)))["Input"]
    assert schema.get("required") == required
    assert list(schema) == ["properties", "type"] + (["required"] if required is not None else []) + ["title"]


def test_input_default_none_is_read_from_the_source(tmp_path):
    # cog 0.23 cannot tell Input() from Input(default=None); the legacy generator
    # made the second optional, so the source is consulted.
    signature = "a: str = Input(None, description='positional'), b: int = Input(description='none')"
    assert components(schema_for(tmp_path, predictor_with(signature)))["Input"]["required"] == ["b"]


def test_without_source_input_default_none_counts_as_required(tmp_path):
    # As in cog 0.23 and its static generator, when there is no source to read.
    body = f"exec({predictor_with('a: str = Input(default=None)')!r})"
    assert components(schema_for(tmp_path, body))["Input"]["required"] == ["a"]


def test_choices_become_enum_components_sorted_by_name(tmp_path):
    signature = "b: str = Input(choices=['1', '2']), Apple: str = Input(choices=['x', 'y']), Zed: int = Input(choices=[1, 2], default=2)"
    schemas = components(schema_for(tmp_path, predictor_with(signature)))
    assert list(schemas) == [
        "Apple",
        "HTTPValidationError",
        "Input",
        "Output",
        "PredictionRequest",
        "PredictionResponse",
        "Status",
        "ValidationError",
        "WebhookEvent",
        "Zed",
        "b",
    ]
    assert_same(schemas["Zed"], {"type": "integer", "enum": [1, 2], "title": "Zed", "description": "An enumeration."})
    assert_same(schemas["b"], {"type": "string", "enum": ["1", "2"], "title": "b", "description": "An enumeration."})
    assert [p["x-order"] for p in schemas["Input"]["properties"].values()] == [0, 1, 2]


def test_no_inputs(tmp_path):
    schema = components(schema_for(tmp_path, predictor_with("")))
    assert_same(schema["Input"], {"properties": {}, "type": "object", "title": "Input"})


# ---------------------------------------------------------------- outputs

OUTPUT_CASES = [
    ("str", {"type": "string", "title": "Output"}),
    ("int", {"type": "integer", "title": "Output"}),
    ("float", {"type": "number", "title": "Output"}),
    ("bool", {"type": "boolean", "title": "Output"}),
    ("Path", {"type": "string", "format": "uri", "title": "Output"}),
    ("File", {"type": "string", "format": "uri", "title": "Output"}),
    ("Secret", {"type": "string", "format": "password", "title": "Output", "writeOnly": True, "x-cog-secret": True}),
    ("dict", {"additionalProperties": True, "type": "object", "title": "Output"}),
    ("Dict[str, Any]", {"additionalProperties": True, "type": "object", "title": "Output"}),
    ("Any", {"title": "Output"}),
    ("List[str]", {"items": {"type": "string"}, "type": "array", "title": "Output"}),
    ("list[Path]", {"items": {"type": "string", "format": "uri"}, "type": "array", "title": "Output"}),
    ("list", {"items": {}, "type": "array", "title": "Output"}),
    (
        "Iterator[str]",
        {"items": {"type": "string"}, "type": "array", "title": "Output", "x-cog-array-type": "iterator"},
    ),
    (
        "Iterator[Path]",
        {
            "items": {"type": "string", "format": "uri"},
            "type": "array",
            "title": "Output",
            "x-cog-array-type": "iterator",
        },
    ),
    (
        "Iterator[int]",
        {"items": {"type": "integer"}, "type": "array", "title": "Output", "x-cog-array-type": "iterator"},
    ),
    (
        "ConcatenateIterator[str]",
        {
            "items": {"type": "string"},
            "type": "array",
            "title": "Output",
            "x-cog-array-display": "concatenate",
            "x-cog-array-type": "iterator",
        },
    ),
]


@pytest.mark.parametrize(("returns", "expected"), OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_output(tmp_path, returns, expected):
    schema = schema_for(tmp_path, predictor_with("p: str", returns))
    assert_same(components(schema)["Output"], expected)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        # cog 0.16 could not build a schema for AsyncIterator; it is the async twin of Iterator.
        (
            "AsyncIterator[str]",
            {"items": {"type": "string"}, "type": "array", "title": "Output", "x-cog-array-type": "iterator"},
        ),
        (
            "AsyncConcatenateIterator[str]",
            {
                "items": {"type": "string"},
                "type": "array",
                "title": "Output",
                "x-cog-array-display": "concatenate",
                "x-cog-array-type": "iterator",
            },
        ),
        ("str", {"type": "string", "title": "Output"}),
    ],
)
def test_async_predict(tmp_path, returns, expected):
    body = f"""
    class Predictor(BasePredictor):
        async def predict(self, p: str) -> {returns}:
            yield p
    """
    schema = schema_for(tmp_path, body)
    assert_same(components(schema)["Output"], expected)
    assert list(components(schema)["Input"]["properties"]) == ["p"]


OUTPUT_MODEL = """
class Output(BaseModel):
    a: str
    b: Optional[int]
    c: List[Path]
    f: Any
    g: dict
    h: Secret
    d: float = 1.5
    e: Optional[List[str]] = None
    i: Path = None
    j: Optional[Path] = None
    k: Optional[int] = 3
"""


def test_output_model_named_output_is_inlined(tmp_path):
    schema = schema_for(tmp_path, predictor_with("p: str", "Output", OUTPUT_MODEL))
    assert_same(
        components(schema)["Output"],
        {
            "properties": {
                "a": {"type": "string", "title": "A"},
                "b": {"title": "B", "type": "integer", "nullable": True},
                "c": {"items": {"type": "string", "format": "uri"}, "type": "array", "title": "C"},
                "f": {"title": "F"},
                "g": {"additionalProperties": True, "type": "object", "title": "G"},
                "h": {"type": "string", "format": "password", "title": "H", "writeOnly": True, "x-cog-secret": True},
                "d": {"type": "number", "title": "D", "default": 1.5},
                "e": {"title": "E", "items": {"type": "string"}, "type": "array", "nullable": True},
                "i": {"type": "string", "format": "uri", "title": "I"},
                "j": {"title": "J", "type": "string", "format": "uri", "nullable": True},
                "k": {"title": "K", "default": 3, "type": "integer", "nullable": True},
            },
            "type": "object",
            "required": ["a", "c", "f", "g", "h"],
            "title": "Output",
        },
    )


def test_output_model_with_another_name_is_a_ref(tmp_path):
    prelude = "class Result(BaseModel):\n    x: int\n    y: Optional[str] = None\n"
    schemas = components(schema_for(tmp_path, predictor_with("p: str", "Result", prelude)))
    assert_same(schemas["Output"], {"$ref": "#/components/schemas/Result"})
    assert_same(
        schemas["Result"],
        {
            "properties": {
                "x": {"type": "integer", "title": "X"},
                "y": {"title": "Y", "type": "string", "nullable": True},
            },
            "type": "object",
            "required": ["x"],
            "title": "Result",
        },
    )


@pytest.mark.parametrize(
    ("fields", "required"),
    [("x: Optional[int]", []), ("x: Optional[int] = None", None), ("x: int\n    y: str = 'a'", ["x"])],
)
def test_output_model_required(tmp_path, fields, required):
    prelude = f"class Output(BaseModel):\n    {fields}\n"
    schema = components(schema_for(tmp_path, predictor_with("p: str", "Output", prelude)))["Output"]
    assert schema.get("required") == required


def test_pydantic_output_model(tmp_path):
    prelude = """
import pydantic
class Output(pydantic.BaseModel):
    a: int
    b: Optional[str] = None
    c: List[str] = pydantic.Field(default_factory=list)
"""
    schema = components(schema_for(tmp_path, predictor_with("p: str", "Output", prelude)))["Output"]
    assert_same(
        schema,
        {
            "properties": {
                "a": {"type": "integer", "title": "A"},
                "b": {"title": "B", "type": "string", "nullable": True},
                "c": {"items": {"type": "string"}, "type": "array", "title": "C"},
            },
            "type": "object",
            "required": ["a"],
            "title": "Output",
        },
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"items": {"type": "string"}, "type": "array", "x-cog-array-type": "iterator"}, True),
        (
            {
                "items": {"type": "string"},
                "type": "array",
                "x-cog-array-type": "iterator",
                "x-cog-array-display": "concatenate",
            },
            True,
        ),
        ({"items": {"type": "string"}, "type": "array"}, False),
        ({"type": "string"}, False),
        ({"$ref": "#/components/schemas/Result"}, False),
    ],
)
def test_output_is_iterator(output, expected):
    assert output_is_iterator({"components": {"schemas": {"Output": output}}}) is expected


# ---------------------------------------------------------------- rule violations

ERROR_CASES = [
    # (signature, return annotation, words the message must contain)
    ("x", "str", ["x", "missing type annotation"]),
    ("x: str", "None", ["predict()", "return type annotation"]),
    ("*xs: str", "str", ["xs", "*args"]),
    ("x: str, **kw: str", "str", ["kw", "**kwargs"]),
    ("x: str, *, y: int = 1", "str", ["y", "keyword-only"]),
    ("x: str, /", "str", ["x", "positional-only"]),
    ("x: Any", "str", ["x", "unsupported type Any"]),
    ("x: set", "str", ["x", "unsupported type set"]),
    ("x: List[List[str]]", "str", ["x", "unsupported type"]),
    # Unions: only of JSON-native members, and without constraints, as in cog 0.23.
    ("x: int | Path", "str", ["x", "unsupported type"]),
    ("x: str | Secret | None = None", "str", ["x", "unsupported type"]),
    ("x: List[List[int]] | str", "str", ["x", "unsupported type"]),
    ("x: List[Optional[int]] | str", "str", ["x", "unsupported type"]),
    ("x: int | float = Input(ge=1)", "str", ["x", "ge/le", "int | float"]),
    ("x: int | str = Input(choices=[1, 2])", "str", ["x", "choices need a str or int"]),
    ("x: str | float = Input(max_length=3)", "str", ["x", "min_length/max_length"]),
    ("x: int | str = 2.5", "str", ["x", "default 2.5", "must be an integer or a string"]),
    ("x: str", "str | int", ["output", "unsupported type"]),
    ("x: str", "Iterator[str | int]", ["output", "iterator must yield"]),
    ("x: str = Input(ge=1)", "str", ["x", "ge/le"]),
    ("x: bool = Input(le=1)", "str", ["x", "ge/le"]),
    ("x: int = Input(max_length=1)", "str", ["x", "min_length/max_length"]),
    ("x: Path = Input(min_length=1)", "str", ["x", "min_length/max_length"]),
    ("x: int = Input(regex='a')", "str", ["x", "regex"]),
    ("x: str = Input(regex='(')", "str", ["x", "invalid regex"]),
    ("x: str = Input(accept='image/*')", "str", ["x", "accept"]),
    ("x: str = Input(choices=['a', 1])", "str", ["x", "choices must all be str"]),
    ("x: int = Input(choices=[1, True])", "str", ["x", "choices must all be int"]),
    ("x: str = Input(choices=['a'])", "str", ["x", "at least 2"]),
    ("x: float = Input(choices=[1.0, 2.0])", "str", ["x", "choices need a str or int"]),
    ("x: List[str] = Input(choices=['a', 'b'])", "str", ["x", "choices need a str or int"]),
    ("x: int = Input(choices=[1, 2], ge=1)", "str", ["x", "cannot be combined"]),
    ("Status: str = Input(choices=['a', 'b'])", "str", ["Status", "cannot be named"]),
    ("x: int = Input(default=0, ge=1)", "str", ["x", "default 0", "greater than or equal to 1"]),
    ("x: float = Input(default=2.5, le=2)", "str", ["x", "less than or equal to 2"]),
    ("x: str = Input(default='zz', max_length=1)", "str", ["x", "at most 1 character"]),
    ("x: str = Input(default='', min_length=1)", "str", ["x", "at least 1 character"]),
    ("x: str = Input(default='b', regex='^a')", "str", ["x", "pattern"]),
    ("x: str = Input(default='b', choices=['a', 'c'])", "str", ["x", "must be one of"]),
    ("x: List[int] = Input(default=[1, 9], le=5)", "str", ["x", "x.1", "less than or equal to 5"]),
    ("x: int = 'abc'", "str", ["x", "must be an integer"]),
    ("x: Path = 5", "str", ["x", "must be a string"]),
    ("x: str = Input(default=object())", "str", ["x", "JSON-serializable"]),
    ("x: str", "Optional[str]", ["output", "Optional"]),
    ("x: str", "Iterator[List[str]]", ["output", "iterator must yield"]),
    ("x: str", "Iterator", ["output", "iterator must yield"]),
    ("x: str", "ConcatenateIterator[int]", ["output", "must yield str"]),
    ("x: str", "set", ["output", "unsupported type set"]),
    ("x: str", "List[List[str]]", ["output", "unsupported type"]),
]


@pytest.mark.parametrize(("signature", "returns", "words"), ERROR_CASES, ids=[f"{c[0]} -> {c[1]}" for c in ERROR_CASES])
def test_rule_violations(tmp_path, signature, returns, words):
    with pytest.raises(PredictorError) as caught:
        schema_for(tmp_path, predictor_with(signature, returns))
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    ("prelude", "returns", "words"),
    [
        ("class Output(BaseModel):\n    inner: Dict[str, int]\n    x: set\n", "Output", ["Output.x", "set"]),
        ("class Input(BaseModel):\n    x: int\n", "Input", ["Input", "rename"]),
    ],
)
def test_output_model_violations(tmp_path, prelude, returns, words):
    with pytest.raises(PredictorError) as caught:
        schema_for(tmp_path, predictor_with("p: str", returns, prelude))
    for word in words:
        assert word in str(caught.value)


def test_choices_input_named_like_the_output_model(tmp_path):
    prelude = "class Result(BaseModel):\n    x: int\n"
    body = predictor_with("Result: str = Input(choices=['a', 'b'])", "Result", prelude)
    with pytest.raises(PredictorError, match="input Result: .*clashes"):
        schema_for(tmp_path, body)


def test_default_factory_is_rejected_naming_the_parameter(tmp_path):
    # cog's Input() raises TypeError at import time, before any signature can be read.
    write(tmp_path, predictor_with("prompt: str, tags: list = Input(default_factory=list)"))
    with pytest.raises(PredictorError, match="input tags: default_factory is not supported"):
        load_predictor(tmp_path, "predict.py:Predictor")


def test_dataclass_field_default_factory_is_rejected(tmp_path):
    prelude = "import dataclasses"
    body = predictor_with("tags: List[str] = Input(default=dataclasses.field(default_factory=list))", prelude=prelude)
    with pytest.raises(PredictorError, match="input tags: default_factory"):
        schema_for(tmp_path, body)


# ---------------------------------------------------------------- predict / run


def test_both_predict_and_run_is_an_error(tmp_path):
    body = """
    class Predictor(BaseRunner):
        def run(self, x: str) -> str: ...
        def predict(self, x: str) -> str: ...
    """
    predictor = load_predictor(write(tmp_path, body), "predict.py:Predictor")
    with pytest.raises(PredictorError, match="both run\\(\\) and predict\\(\\)"):
        predict_method(predictor)


@pytest.mark.parametrize(
    ("body", "ref", "method"),
    [
        ("class Runner(BaseRunner):\n    def run(self, x: str) -> str: ...\n", "predict.py:Runner", "run"),
        (
            "class Predictor(BasePredictor):\n    def predict(self, x: str) -> str: ...\n",
            "predict.py:Predictor",
            "predict",
        ),
        ("class Runner(BaseRunner):\n    async def run(self, x: str) -> str: ...\n", "predict.py", "run"),
        ("class Predictor(BasePredictor):\n    def predict(self, x: str) -> str: ...\n", "predict.py", "predict"),
        ("def handler(x: str) -> str: ...\n", "predict.py:handler", "handler"),
        # A subclass inherits the user's run() from its user-defined parent.
        ("class A(BaseRunner):\n    def run(self, x: str) -> str: ...\nclass B(A):\n    pass\n", "predict.py:B", "run"),
    ],
)
def test_predict_method(tmp_path, body, ref, method):
    predictor = load_predictor(write(tmp_path, body), ref)
    fn = predict_method(predictor)
    assert fn.__name__ == method
    schema = generate_openapi_schema(predictor)
    assert list(components(schema)["Input"]["properties"]) == ["x"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("class Predictor(BasePredictor):\n    pass\n", "neither run() nor predict()"),
        ("class Predictor(BasePredictor):\n    @staticmethod\n    def predict(x: str) -> str: ...\n", "self first"),
        ("Predictor = 3\n", "neither a class nor a function"),
    ],
)
def test_predict_method_errors(tmp_path, body, message):
    predictor = load_predictor(write(tmp_path, body), "predict.py:Predictor")
    with pytest.raises(PredictorError) as caught:
        predict_method(predictor)
    assert message in str(caught.value)


def test_string_annotations_are_resolved(tmp_path):
    body = "from __future__ import annotations\n" + predictor_with("x: Optional[int] = None", "List[str]")
    schema = components(schema_for(tmp_path, body))
    assert schema["Input"]["properties"]["x"]["nullable"] is True
    assert schema["Output"]["type"] == "array"


def test_unresolvable_annotation(tmp_path):
    body = "from __future__ import annotations\n" + predictor_with("x: Missing", "str")
    with pytest.raises(PredictorError, match="cannot resolve"):
        schema_for(tmp_path, body)


# ---------------------------------------------------------------- loading


def test_load_prefers_runner_then_predictor(tmp_path):
    write(tmp_path, "class Predictor(BasePredictor): ...\nclass Runner(BaseRunner): ...\n")
    assert load_predictor(tmp_path, "predict.py").__name__ == "Runner"
    assert load_predictor(tmp_path, "predict.py:Predictor").__name__ == "Predictor"


def test_load_allows_local_imports_and_restores_sys_path(tmp_path):
    (tmp_path / "helpers_for_hearth_test.py").write_text("DEFAULT = 'from helper'\n")
    body = "from helpers_for_hearth_test import DEFAULT\n" + predictor_with("x: str = DEFAULT")
    before = list(sys.path)
    schema = schema_for(tmp_path, body)
    assert sys.path == before
    assert components(schema)["Input"]["properties"]["x"]["default"] == "from helper"


STUB = "class Predictor(BasePredictor): ...\n"


@pytest.mark.parametrize(
    ("filename", "body", "ref", "message"),
    [
        ("predict.py", STUB, "missing.py:Predictor", "missing.py not found"),
        ("predict.py", STUB, "predict.py:Nope", "Nope not found in predict.py"),
        ("predict.py", "x = 1\n", "predict.py", "Runner or Predictor not found"),
        ("predict.py", "import not_a_module_anywhere\n", "predict.py", "ModuleNotFoundError"),
        ("predict.py", "\n\nraise RuntimeError('boom')\n", "predict.py", "(line 6): RuntimeError: boom"),
        ("predict.py", "def predict(:\n", "predict.py", "SyntaxError"),
        ("queue.py", STUB, "queue.py:Predictor", "standard library module"),
    ],
)
def test_load_errors(tmp_path, filename, body, ref, message):
    write(tmp_path, body, filename)
    with pytest.raises(PredictorError) as caught:
        load_predictor(tmp_path, ref)
    assert message in str(caught.value)


# ---------------------------------------------------------------- CLI


def run_cli(project: Path, ref: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inference.runtime.schema", str(project), ref],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_the_schema(tmp_path):
    # Output printed by user code at import must not corrupt the JSON on stdout.
    body = "import os\nprint('loading model')\nos.write(1, b'native noise\\n')\n" + predictor_with("x: int", "str")
    result = run_cli(write(tmp_path, body), "predict.py:Predictor")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert list(components(schema)["Input"]["properties"]) == ["x"]
    assert "loading model" in result.stderr and "native noise" in result.stderr


def test_cli_golden_example():
    result = run_cli(EXAMPLE, "predict.py:Predictor")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == generate_openapi_schema(load_predictor(EXAMPLE, "predict.py:Predictor"))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (predictor_with("x: str = Input(ge=1)"), "input x: ge/le need an int or float input, not str"),
        ("import not_a_module_anywhere\n", "ModuleNotFoundError"),
    ],
)
def test_cli_reports_errors_as_json(tmp_path, body, error):
    result = run_cli(write(tmp_path, body), "predict.py:Predictor")
    assert result.returncode == 1
    assert error in json.loads(result.stdout)["error"]
