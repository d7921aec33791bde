"""The copy-paste snippets on a model page run as they are: valid Python and shell, with the
input made from the schema's defaults."""

import ast
import json
import shlex
from pathlib import Path

from inference.web.examples import curl_example, example_input, python_example, shell_environment
from inference.web.playground import form_fields

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "cog-schema-example" / "openapi_schema.cog-0.16.12.json"


def golden_example() -> dict:
    return example_input(form_fields(json.loads(GOLDEN.read_text())))


def test_the_example_input_has_required_inputs_and_defaults_but_no_secrets_or_deprecated_ones():
    # prompt is required without a default; secrets and deprecated inputs are left out.
    assert golden_example() == {
        "prompt": "...",
        "steps": 20,
        "guidance": 7.5,
        "scheduler": "DDIM",
        "size": 512,
        "upscale": False,
    }


def test_the_python_snippet_is_python_with_the_same_input():
    text = {"prompt": 'say "hi": true', "n": None, "flag": True, "tags": ["a", "b"], "nested": {"x": 1.5}}
    source = python_example(model_ref="alice/painter", input=text, streams=False)
    call = ast.parse(source).body[1].value  # output = replicate.run(...)
    assert ast.literal_eval(call.args[0]) == "alice/painter"
    assert ast.literal_eval(call.keywords[0].value) == text


def test_a_streaming_model_gets_a_stream_loop():
    source = python_example(model_ref="alice/tokens", input={"text": "hi"}, streams=True)
    loop = ast.parse(source).body[1]
    assert isinstance(loop, ast.For) and ast.unparse(loop.iter.func) == "replicate.stream"


def test_the_curl_snippet_posts_the_input_to_this_server():
    command = curl_example(origin="http://hearth.test", model_ref="alice/painter", input={"text": "it's"})
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:5] == ["curl", "-s", "-X", "POST", "http://hearth.test/v1/models/alice/painter/predictions"]
    assert json.loads(words[words.index("-d") + 1]) == {"input": {"text": "it's"}}


def test_an_older_version_is_named_in_the_curl_body():
    command = curl_example(origin="http://hearth.test", model_ref="alice/painter", input={}, version="abc")
    words = shlex.split(command.replace("\\\n", " "))
    assert "http://hearth.test/v1/predictions" in words
    assert json.loads(words[words.index("-d") + 1]) == {"version": "abc", "input": {}}


def test_the_environment_points_the_client_here():
    assert shell_environment(origin="http://hearth.test").startswith("export REPLICATE_BASE_URL=http://hearth.test\n")
