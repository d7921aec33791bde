"""The text-generation model's way in for OpenAI's chat API (inference/openai_compat): a whole
conversation as its `messages` input, and the token counts it records for `usage`."""

import itertools
import json

import pytest

from tests.zoo.packages import ONE_THREAD, ZOO, load_package_module, set_up_in_process, started_runner

PACKAGE = ZOO / "text-generation"
CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "what is a model?"},
    {"role": "assistant", "content": "a thing that predicts"},
    {"role": "user", "content": "and a runner?"},
]
_ids = itertools.count()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return load_package_module(PACKAGE, "tiny_model").build(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def runner(model_dir):
    with started_runner(PACKAGE, {"HEARTH_TEXT_MODEL": str(model_dir), **ONE_THREAD}) as runner:
        yield runner


@pytest.fixture(scope="module")
def predict_module():
    return load_package_module(PACKAGE, "predict")


@pytest.fixture(scope="module")
def local(model_dir, predict_module):
    return set_up_in_process(predict_module, {"HEARTH_TEXT_MODEL": str(model_dir)})


def run(runner, **input):
    result = runner.predict(prediction_id=f"c{next(_ids)}", input={"prompt": "ignored", **input})
    assert result.status == "succeeded", result.error
    return result


def test_a_conversation_is_encoded_whole_through_the_chat_template(local, predict_module):
    encoded = predict_module.encode_conversation(local.tokenizer, json.dumps(CONVERSATION))

    whole = local.tokenizer.apply_chat_template(CONVERSATION, add_generation_prompt=True, return_dict=True)
    assert encoded["input_ids"][0].tolist() == whole["input_ids"]
    last_turn_only = local._encode("and a runner?", "be brief")["input_ids"][0].tolist()
    assert len(whole["input_ids"]) > len(last_turn_only)


def test_without_a_chat_template_a_conversation_is_a_transcript(local, predict_module, monkeypatch):
    monkeypatch.setattr(local.tokenizer, "chat_template", None)

    encoded = predict_module.encode_conversation(local.tokenizer, json.dumps(CONVERSATION[1:3]))

    transcript = "user: what is a model?\nassistant: a thing that predicts\nassistant:"
    assert encoded["input_ids"][0].tolist() == local.tokenizer(transcript)["input_ids"]


def test_messages_replace_the_prompt(runner):
    by_messages = run(runner, messages=json.dumps(CONVERSATION[1:2]), max_tokens=8, temperature=0)
    by_prompt = run(runner, prompt="what is a model?", max_tokens=8, temperature=0)

    assert "".join(by_messages.output) == "".join(by_prompt.output)


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ("not json", "messages is not JSON"),
        ("[]", "messages must be a non-empty list"),
        ('[{"role": "tool", "content": "x"}]', "a message's role must be system, user or assistant"),
        ('[{"role": "user"}]', "each of messages must be an object with a string content"),
    ],
)
def test_a_malformed_conversation_fails_the_prediction(runner, messages, error):
    result = runner.predict(prediction_id=f"c{next(_ids)}", input={"prompt": "x", "messages": messages})

    assert result.status == "failed"
    assert error in result.error


def test_it_records_the_token_counts_of_prompt_and_answer(runner, local):
    result = run(runner, prompt="what is a model?", max_tokens=5, temperature=0)

    prompt_tokens = local._encode("what is a model?", "")["input_ids"].shape[-1]
    assert result.metrics["input_token_count"] == prompt_tokens
    # The tiny tokenizer is word-level: each token generated is one word of the answer (or an
    # end-of-text that decodes to nothing).
    assert 0 < result.metrics["output_token_count"] <= 5
    assert len(local.tokenizer("".join(result.output), add_special_tokens=False)["input_ids"]) <= 5
