"""The playground form made from Cog's golden schema (every input type), and posted form data
turned back into validated input."""

import base64
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from inference.web.playground import PlaygroundInputError, form_fields, input_from_form, output_display

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "cog-schema-example" / "openapi_schema.cog-0.16.12.json"


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def fields(schema) -> dict:
    return {field.name: field for field in form_fields(schema)}


def post(files=None, **values) -> tuple[QueryDict, MultiValueDict]:
    data = QueryDict(mutable=True)
    for name, value in values.items():
        data.setlist(name, value if isinstance(value, list) else [value])
    return data, MultiValueDict(files or {})


def test_fields_come_in_the_predictors_parameter_order(schema):
    assert [field.name for field in form_fields(schema)] == [
        "prompt",
        "image",
        "steps",
        "guidance",
        "scheduler",
        "size",
        "upscale",
        "api_key",
        "tags",
        "seed",
        "old",
    ]


@pytest.mark.parametrize(
    ("name", "widget", "type_label"),
    [
        ("prompt", "text", "string"),  # has a pattern, so a one-line input the browser can check
        ("image", "file", "file"),
        ("steps", "integer", "integer"),
        ("guidance", "number", "number"),
        ("scheduler", "select", "choice"),
        ("size", "select", "choice"),
        ("upscale", "checkbox", "boolean"),
        ("api_key", "password", "secret"),
        ("tags", "list", "string[]"),
        ("seed", "integer", "integer"),
        ("old", "textarea", "string"),
    ],
)
def test_each_input_type_gets_its_control(fields, name, widget, type_label):
    assert (fields[name].widget, fields[name].type_label) == (widget, type_label)


def test_constraints_defaults_and_help_are_carried(fields):
    prompt, steps, guidance = fields["prompt"], fields["steps"], fields["guidance"]
    assert (prompt.required, prompt.min_length, prompt.max_length, prompt.pattern) == (True, 1, 500, "^[a-z ]+$")
    assert (steps.minimum, steps.maximum, steps.initial, steps.step, steps.required) == (1, 100, "20", "1", False)
    assert (guidance.initial, guidance.step, guidance.help_text) == ("7.5", "any", "Guidance")
    assert fields["old"].deprecated and not fields["steps"].deprecated
    assert fields["seed"].initial == "" and fields["image"].initial == ""


def test_constraints_read_as_words(fields):
    assert fields["prompt"].constraints == "at least 1 character; at most 500 characters; matches ^[a-z ]+$"
    assert fields["guidance"].constraints == "≥ 0; ≤ 20"
    assert fields["size"].constraints == "one of 256, 512, 1024"
    assert fields["upscale"].constraints == ""


def test_labels_are_the_titles_cog_gives(fields):
    assert [fields[name].label for name in ("prompt", "scheduler", "api_key")] == ["Prompt", "Scheduler", "Api Key"]


def test_choices_keep_their_types_and_defaults(fields):
    assert fields["scheduler"].choices == ("DDIM", "K_EULER", "PNDM")
    assert fields["size"].choices == (256, 512, 1024) and fields["size"].initial == "512"
    assert fields["upscale"].default is False


def test_a_filled_in_form_becomes_typed_input(schema):
    upload = SimpleUploadedFile("cat.png", b"\x89PNG fake", content_type="image/png")
    data, files = post(
        {"image": [upload]},
        prompt="a cat",
        steps="30",
        guidance="2.5",
        scheduler="K_EULER",
        size="1024",
        upscale="on",
        api_key="sk-1",
        tags="red\n\n blue \n",
        seed="-7",
        old="",
    )
    assert input_from_form(schema, data, files) == {
        "prompt": "a cat",
        "image": "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode(),
        "steps": 30,
        "guidance": 2.5,
        "scheduler": "K_EULER",
        "size": 1024,
        "upscale": True,
        "api_key": "sk-1",
        "tags": ["red", "blue"],
        "seed": -7,
    }


def test_empty_optional_fields_are_left_to_the_predictors_defaults(schema):
    data, files = post(prompt="a cat", steps="", seed="", tags="", scheduler="")
    # An unchecked box is false: the form always shows it, so its absence is the answer.
    assert input_from_form(schema, data, files) == {"prompt": "a cat", "upscale": False}


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"steps": "many"}, {"steps": ["Enter a whole number."]}),
        ({"steps": "2.5"}, {"steps": ["Enter a whole number."]}),
        ({"guidance": "lots"}, {"guidance": ["Enter a number."]}),
        ({"steps": "101"}, {"steps": ["steps must be less than or equal to 100"]}),
        ({"guidance": "-1"}, {"guidance": ["guidance must be greater than or equal to 0"]}),
        ({"size": "300"}, {"size": ["Select one of the choices."]}),
        ({"prompt": "A Cat!"}, {"prompt": ["prompt does not match pattern '^[a-z ]+$'"]}),
        ({"prompt": ""}, {"prompt": ["prompt is required"]}),
    ],
    ids=[
        "not_an_integer",
        "fractional_integer",
        "not_a_number",
        "above_maximum",
        "below_minimum",
        "unknown_choice",
        "pattern",
        "missing_required",
    ],
)
def test_bad_fields_are_reported_by_name(schema, values, errors):
    data, files = post(**{"prompt": "a cat", **values})
    with pytest.raises(PlaygroundInputError) as raised:
        input_from_form(schema, data, files)
    assert raised.value.errors == errors


def test_every_bad_field_is_reported_at_once(schema):
    data, files = post(prompt="", steps="0", guidance="x")
    with pytest.raises(PlaygroundInputError) as raised:
        input_from_form(schema, data, files)
    assert set(raised.value.errors) == {"prompt", "steps", "guidance"}


def test_numeric_lists_are_parsed_line_by_line():
    schema = {
        "components": {
            "schemas": {
                "Input": {
                    "properties": {
                        "weights": {"type": "array", "items": {"type": "number"}, "title": "Weights"},
                        "files": {"type": "array", "items": {"type": "string", "format": "uri"}, "title": "Files"},
                        "anything": {"title": "Anything"},
                    }
                }
            }
        }
    }
    by_name = {field.name: field for field in form_fields(schema)}
    assert (by_name["weights"].widget, by_name["files"].widget, by_name["anything"].widget) == ("list", "files", "json")
    data, files = post(weights="1\n2.5", anything='{"a": [1]}')
    assert input_from_form(schema, data, files) == {"weights": [1.0, 2.5], "anything": {"a": [1]}}
    data, files = post(weights="1\nx", anything="{")
    with pytest.raises(PlaygroundInputError) as raised:
        input_from_form(schema, data, files)
    assert raised.value.errors == {"weights": ["Enter a number."], "anything": ["Enter valid JSON."]}


def test_output_display_follows_the_output_schema(schema):
    concatenate = {
        "components": {
            "schemas": {
                "Output": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-cog-array-type": "iterator",
                    "x-cog-array-display": "concatenate",
                }
            }
        }
    }
    iterator = {
        "components": {
            "schemas": {
                "Output": {
                    "type": "array",
                    "items": {"type": "string", "format": "uri"},
                    "x-cog-array-type": "iterator",
                }
            }
        }
    }
    assert (output_display(concatenate), output_display(iterator), output_display(schema)) == (
        "concatenate",
        "iterator",
        "single",
    )
