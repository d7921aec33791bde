"""OpenAI request fields into a model's input, for models that take more or less than the zoo's."""

from types import SimpleNamespace

import pytest

from inference.openai_compat import inputs
from inference.openai_compat.errors import OpenAIError


def version_taking(*names: str):
    properties = {name: {"type": "string"} for name in names}
    return SimpleNamespace(openapi_schema={"components": {"schemas": {"Input": {"properties": properties}}}})


def chat(*messages, **fields):
    return inputs.chat_request({"model": "a/b", "messages": list(messages), **fields})


USER, SYSTEM, ASSISTANT = (
    {"role": "user", "content": "what is a model?"},
    {"role": "developer", "content": "be brief"},
    {"role": "assistant", "content": "a thing"},
)


def test_one_question_is_the_prompt_and_the_system_messages_the_system_prompt():
    model_input, _ = inputs.chat_input(chat(SYSTEM, USER), version_taking("prompt", "system_prompt"))
    assert model_input == {"prompt": "what is a model?", "system_prompt": "be brief"}


def test_a_conversation_for_a_model_without_messages_is_a_transcript_in_the_prompt():
    model_input, params = inputs.chat_input(chat(SYSTEM, USER, ASSISTANT, USER), version_taking("prompt"))

    assert model_input["prompt"] == (
        "system: be brief\nuser: what is a model?\nassistant: a thing\nuser: what is a model?\nassistant:"
    )
    assert params == {"prompt": "messages"}


def test_only_the_inputs_a_model_takes_are_sent():
    request = chat(USER, max_tokens=9, temperature=0.2, seed=1, stop="END")

    model_input, params = inputs.chat_input(request, version_taking("prompt", "max_new_tokens"))

    assert model_input == {"prompt": "what is a model?", "max_new_tokens": 9}
    assert params == {"prompt": "messages", "max_new_tokens": "max_tokens"}


def test_max_completion_tokens_wins_over_the_older_max_tokens():
    model_input, _ = inputs.chat_input(
        chat(USER, max_tokens=9, max_completion_tokens=3), version_taking("prompt", "max_tokens")
    )
    assert model_input["max_tokens"] == 3


def test_a_stop_sequence_with_a_comma_is_fine_for_a_model_without_stop_sequences():
    model_input, _ = inputs.chat_input(chat(USER, stop=["a,b"]), version_taking("prompt"))
    assert model_input == {"prompt": "what is a model?"}
    with pytest.raises(OpenAIError):
        inputs.chat_input(chat(USER, stop=["a,b"]), version_taking("prompt", "stop_sequences"))
