"""Input validation against the golden example's schema (cog 0.16.12's own output) and small hand-made ones."""

import copy
import json
from pathlib import Path

import pytest

from inference.runtime.validation import (
    InputValidationError,
    InputValidator,
    compile_input_validator,
    validate_input,
)

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "cog-schema-example" / "openapi_schema.cog-0.16.12.json"


@pytest.fixture(scope="module")
def schema():
    # prompt: required str, 1..500 chars, ^[a-z ]+$; image: uri; steps: int 1..100;
    # guidance: number 0..20; scheduler: enum str; size: enum int; upscale: bool;
    # api_key: Secret; tags: List[str]; seed: Optional[int]; old: str.
    return json.loads(GOLDEN.read_text())


def doc(properties: dict, required=(), extra_components=None) -> dict:
    input_schema = {"properties": properties, "type": "object", "required": list(required), "title": "Input"}
    return {"components": {"schemas": {"Input": input_schema, **(extra_components or {})}}}


def errors_of(schema, payload) -> list[dict]:
    with pytest.raises(InputValidationError) as caught:
        validate_input(schema, payload)
    return caught.value.invalid_fields


# ---------------------------------------------------------------- accepted input


@pytest.mark.parametrize(
    ("payload", "cleaned"),
    [
        ({"prompt": "a cat"}, {"prompt": "a cat"}),  # defaults are not filled in
        ({"prompt": "a", "guidance": 7}, {"prompt": "a", "guidance": 7.0}),  # int -> float
        ({"prompt": "a", "steps": 30.0}, {"prompt": "a", "steps": 30}),  # integral float -> int
        ({"prompt": "a", "size": 512.0}, {"prompt": "a", "size": 512}),
        ({"prompt": "a", "seed": None}, {"prompt": "a", "seed": None}),  # nullable
        ({"prompt": "a", "seed": 42}, {"prompt": "a", "seed": 42}),
        ({"prompt": "a", "scheduler": "K_EULER", "size": 1024}, {"prompt": "a", "scheduler": "K_EULER", "size": 1024}),
        ({"prompt": "a", "image": "https://example.com/x.png"}, {"prompt": "a", "image": "https://example.com/x.png"}),
        (
            {"prompt": "a", "image": "data:image/png;base64,iVBORw0KGgo="},
            {"prompt": "a", "image": "data:image/png;base64,iVBORw0KGgo="},
        ),
        ({"prompt": "a", "image": "s3://bucket/key"}, {"prompt": "a", "image": "s3://bucket/key"}),
        ({"prompt": "a", "tags": []}, {"prompt": "a", "tags": []}),
        ({"prompt": "a", "tags": ["x", "y"], "upscale": True}, {"prompt": "a", "tags": ["x", "y"], "upscale": True}),
        ({"prompt": "a", "api_key": "sk-123", "old": "y"}, {"prompt": "a", "api_key": "sk-123", "old": "y"}),
        (
            {"prompt": "a", "steps": 1, "guidance": 20},
            {"prompt": "a", "steps": 1, "guidance": 20.0},
        ),  # bounds inclusive
        ({"prompt": "x" * 500}, {"prompt": "x" * 500}),
    ],
)
def test_valid_input(schema, payload, cleaned):
    result = validate_input(schema, payload)
    assert result == cleaned
    assert {k: type(v) for k, v in result.items()} == {k: type(v) for k, v in cleaned.items()}


def test_payload_is_not_modified(schema):
    payload = {"prompt": "a", "guidance": 3, "tags": ["x"]}
    before = copy.deepcopy(payload)
    validate_input(schema, payload)
    assert payload == before


# ---------------------------------------------------------------- rejected input


def one(kind, field, description):
    return [{"type": kind, "field": f"input.{field}", "description": description}]


@pytest.mark.parametrize(
    ("payload", "invalid_fields"),
    [
        ({}, one("required", "prompt", "prompt is required")),
        ({"steps": 5}, one("required", "prompt", "prompt is required")),
        ({"prompt": None}, one("type", "prompt", "prompt must be a string, not null")),
        ({"prompt": 5}, one("type", "prompt", "prompt must be a string, not number")),
        (
            {"prompt": ""},
            one("min_length", "prompt", "prompt must be at least 1 character long")
            + one("pattern", "prompt", "prompt does not match pattern '^[a-z ]+$'"),
        ),
        ({"prompt": "x" * 501}, one("max_length", "prompt", "prompt must be at most 500 characters long")),
        ({"prompt": "A cat"}, one("pattern", "prompt", "prompt does not match pattern '^[a-z ]+$'")),
        ({"prompt": "a", "steps": 0}, one("minimum", "steps", "steps must be greater than or equal to 1")),
        ({"prompt": "a", "steps": 101}, one("maximum", "steps", "steps must be less than or equal to 100")),
        ({"prompt": "a", "steps": 2.5}, one("type", "steps", "steps must be an integer, not number")),
        # Strings are not parsed into numbers or booleans (JSON Schema, not pydantic's lax mode).
        ({"prompt": "a", "steps": "7"}, one("type", "steps", "steps must be an integer, not string")),
        ({"prompt": "a", "guidance": "7.5"}, one("type", "guidance", "guidance must be a number, not string")),
        ({"prompt": "a", "upscale": "true"}, one("type", "upscale", "upscale must be a boolean, not string")),
        ({"prompt": "a", "upscale": 1}, one("type", "upscale", "upscale must be a boolean, not number")),
        # Booleans are not numbers, although Python says True == 1.
        ({"prompt": "a", "steps": True}, one("type", "steps", "steps must be an integer, not boolean")),
        ({"prompt": "a", "guidance": False}, one("type", "guidance", "guidance must be a number, not boolean")),
        ({"prompt": "a", "guidance": float("nan")}, one("type", "guidance", "guidance must be a number, not number")),
        ({"prompt": "a", "guidance": 10**400}, one("type", "guidance", "guidance must be a number, not number")),
        ({"prompt": "a", "guidance": -0.5}, one("minimum", "guidance", "guidance must be greater than or equal to 0")),
        ({"prompt": "a", "guidance": 20.5}, one("maximum", "guidance", "guidance must be less than or equal to 20")),
        (
            {"prompt": "a", "scheduler": "ddim"},
            one("enum", "scheduler", 'scheduler must be one of: "DDIM", "K_EULER", "PNDM"'),
        ),
        ({"prompt": "a", "size": 300}, one("enum", "size", "size must be one of: 256, 512, 1024")),
        ({"prompt": "a", "size": "512"}, one("type", "size", "size must be an integer, not string")),
        ({"prompt": "a", "image": "cat.png"}, one("format", "image", "image must be a URL (https://... or data:...)")),
        (
            {"prompt": "a", "image": "/etc/passwd"},
            one("format", "image", "image must be a URL (https://... or data:...)"),
        ),
        ({"prompt": "a", "image": None}, one("type", "image", "image must be a string, not null")),  # not nullable
        ({"prompt": "a", "tags": "x"}, one("type", "tags", "tags must be a list, not string")),
        ({"prompt": "a", "tags": ["x", 1]}, one("type", "tags.1", "tags.1 must be a string, not number")),
        ({"prompt": "a", "seed": "1"}, one("type", "seed", "seed must be an integer, not string")),
        ({"prompt": "a", "api_key": {"k": 1}}, one("type", "api_key", "api_key must be a string, not object")),
    ],
)
def test_invalid_input(schema, payload, invalid_fields):
    assert errors_of(schema, payload) == invalid_fields


def test_every_bad_field_is_reported_in_signature_order(schema):
    payload = {"seed": "x", "tags": [1, "ok", None], "scheduler": "nope", "steps": 0}
    assert [(e["type"], e["field"]) for e in errors_of(schema, payload)] == [
        ("required", "input.prompt"),
        ("minimum", "input.steps"),
        ("enum", "input.scheduler"),
        ("type", "input.tags.0"),
        ("type", "input.tags.2"),
        ("type", "input.seed"),
    ]


def test_keys_the_schema_does_not_name_are_refused_after_the_fields_it_names(schema):
    # The hosted service refuses them; cog 0.23.1 alone would drop them and run.
    errors = errors_of(schema, {"unknown": 1, "prompt": 5, "another": None})
    assert [(e["type"], e["field"]) for e in errors] == [
        ("type", "input.prompt"),
        ("additional_property", "input.unknown"),
        ("additional_property", "input.another"),
    ]
    assert errors[1]["description"] == (
        "Additional property unknown is not allowed: the inputs are api_key, guidance, image, old, prompt, "
        "scheduler, seed, size, steps, tags, upscale"
    )


def test_a_model_without_inputs_says_so():
    errors = errors_of({"components": {"schemas": {"Input": {"type": "object", "properties": {}}}}}, {"x": 1})
    assert errors == [
        {
            "type": "additional_property",
            "field": "input.x",
            "description": "Additional property x is not allowed: this model takes no input",
        }
    ]


def test_a_field_reports_each_broken_constraint(schema):
    assert [e["type"] for e in errors_of(schema, {"prompt": "X" * 501})] == ["max_length", "pattern"]


@pytest.mark.parametrize("payload", [None, [], "prompt", 3, [{"prompt": "a"}]])
def test_input_must_be_an_object(schema, payload):
    assert errors_of(schema, payload) == [{"type": "type", "field": "input", "description": "input must be an object"}]


def test_error_message_lists_the_fields(schema):
    with pytest.raises(InputValidationError) as caught:
        validate_input(schema, {"steps": 0})
    assert str(caught.value) == (
        "input.prompt: prompt is required; input.steps: steps must be greater than or equal to 1"
    )


# ---------------------------------------------------------------- other schema shapes


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        # Constraints on a List apply to each element.
        (
            {"items": {"type": "integer", "minimum": 1.0}, "type": "array"},
            [1, 0],
            one("minimum", "x.1", "x.1 must be greater than or equal to 1"),
        ),
        (
            {"items": {"type": "string", "format": "uri"}, "type": "array"},
            ["https://a", "b"],
            one("format", "x.1", "x.1 must be a URL (https://... or data:...)"),
        ),
        ({"items": {"type": "number"}, "type": "array", "nullable": True}, None, []),
        ({"type": "number", "maximum": 1.5}, 2, one("maximum", "x", "x must be less than or equal to 1.5")),
        ({"additionalProperties": True, "type": "object"}, [], one("type", "x", "x must be an object, not list")),
        ({"additionalProperties": True, "type": "object"}, {"a": [1]}, []),
        ({"title": "X"}, {"anything": True}, []),  # untyped (Any)
        ({"title": "X"}, None, []),
    ],
)
def test_property_shapes(prop, value, expected):
    schema = doc({"x": prop})
    if expected:
        assert errors_of(schema, {"x": value}) == expected
    else:
        assert validate_input(schema, {"x": value}) == {"x": value}


def test_list_items_are_coerced():
    schema = doc({"x": {"items": {"type": "number"}, "type": "array"}})
    cleaned = validate_input(schema, {"x": [1, 2.5]})
    assert cleaned == {"x": [1.0, 2.5]} and type(cleaned["x"][0]) is float


def test_bare_input_schema_is_accepted():
    bare = {"properties": {"n": {"type": "integer"}}, "required": ["n"], "title": "Input"}
    assert validate_input(bare, {"n": 2}) == {"n": 2}
    assert errors_of(bare, {}) == one("required", "n", "n is required")


def test_check_value_vets_one_input(schema):
    validator = InputValidator(schema)
    assert validator.check_value("steps", 50) == []
    assert validator.check_value("steps", 500) == one("maximum", "steps", "steps must be less than or equal to 100")


# ---------------------------------------------------------------- compile cache


def test_validator_is_compiled_once_per_schema_object(schema):
    first = compile_input_validator(schema)
    assert compile_input_validator(schema) is first
    equal_copy = copy.deepcopy(schema)
    assert compile_input_validator(equal_copy) is not first
    assert compile_input_validator(equal_copy) is compile_input_validator(equal_copy)


def test_many_schemas_do_not_grow_the_cache_without_bound():
    from inference.runtime import validation

    schemas = [doc({"n": {"type": "integer"}}) for _ in range(validation._CACHE_SIZE * 2)]
    for s in schemas:
        assert validate_input(s, {"n": 1}) == {"n": 1}
    assert len(validation._CACHE) <= validation._CACHE_SIZE


# ---------------------------------------------------------------- cog 0.23 unions and cog.Opaque

UNIONS = Path(__file__).resolve().parents[2] / "fixtures" / "cog-unions"
UNION_CASES = json.loads((UNIONS / "cog-0.23.1.json").read_text())["cases"]


@pytest.fixture(scope="module")
def unions_schema():
    from inference.runtime.schema import generate_openapi_schema, load_predictor

    return generate_openapi_schema(load_predictor(UNIONS, "predict.py:Runner"))


def same_json(a, b) -> bool:
    """Equal down to the JSON type: 3 is not 3.0, 1 is not true."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("case", UNION_CASES, ids=[json.dumps(c["input"]) for c in UNION_CASES])
def test_union_and_opaque_inputs_are_checked_as_cog_0_23_1_checks_them(unions_schema, case):
    if "error" in case and case["input"].get("count_or_name") == 7.0:
        # The one payload on which cog 0.23.1's server and its SDK differ: coglet checks input
        # with JSON Schema only (measured: it never calls check_input) and takes 7.0 for
        # `int | str`, which check_input refuses. Hearth takes what the server takes, as 7.
        assert same_json(validate_input(unions_schema, case["input"])["count_or_name"], 7)
    elif "error" in case:
        field = case["error"].split(":")[0]  # cog's message is "<field>: ..."
        assert [e["field"] for e in errors_of(unions_schema, case["input"])] == [f"input.{field}"]
    else:
        # Cog's value for each field sent (Hearth leaves defaults to the predictor).
        expected = {name: value for name, value in case["kwargs"].items() if name in case["input"]}
        assert same_json(validate_input(unions_schema, case["input"]), expected)


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        (
            {"anyOf": [{"type": "string"}, {"type": "number"}]},
            True,
            one("type", "x", "x must be a string or a number, not boolean"),
        ),
        (
            {"anyOf": [{"type": "string"}, {"type": "number"}]},
            None,
            one("type", "x", "x must be a string or a number, not null"),
        ),
        (
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "integer"}},
                    {"type": "array", "items": {"type": "number"}},
                ]
            },
            [1, "2"],
            one("type", "x", "x must be a list of integers or a list of numbers, not list"),
        ),
        ({"anyOf": [{"type": "boolean"}, {"type": "integer"}]}, True, []),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            7.5,
            one("type", "x", "x must be an integer or a string, not number"),
        ),
        ({"anyOf": [{"type": "object"}, {"type": "string"}]}, {"a": 1}, []),
        ({"anyOf": [{"type": "string"}, {"type": "number"}], "nullable": True}, None, []),
        # An opaque input is any JSON object, and only an object (coglet's schema check refuses
        # the rest before cog's SDK, which would pass anything through, sees it).
        ({"type": "object"}, {"a": {"b": [1, None]}}, []),
        ({"type": "object"}, "text", one("type", "x", "x must be an object, not string")),
        ({"type": "object"}, [{"a": 1}], one("type", "x", "x must be an object, not list")),
    ],
)
def test_union_and_opaque_shapes(prop, value, expected):
    schema = doc({"x": prop})
    if expected:
        assert errors_of(schema, {"x": value}) == expected
    else:
        assert same_json(validate_input(schema, {"x": value}), {"x": value})
