"""OpenAI request bodies, checked, and turned into a model's Cog input.

A chat model (`Model.openai_api` chat) takes what Replicate's language models take, and each
field goes only to a model whose Input schema has it: `prompt`, `system_prompt`, `max_tokens`
(or `max_new_tokens`), `temperature`, `top_p`, `seed`, `stop_sequences` (comma-separated), and
optionally `messages`, the whole conversation as JSON (zoo/text-generation takes it). A
conversation that a model without `messages` cannot take whole is written into its `prompt` as a
transcript. An embeddings model takes `texts`, a list of strings, and returns one vector each.
"""

import json
from typing import Annotated, Any, Literal, Required

from pydantic import Field
from typing_extensions import TypedDict

from hosting.request_bodies import validated
from inference.models import Version
from inference.openai_compat.errors import OpenAIError

_Count = Annotated[int, Field(ge=1)]


class _TextPartJSON(TypedDict, total=False):
    type: Required[str]
    text: str


class _MessageJSON(TypedDict, total=False):
    role: Required[Literal["system", "developer", "user", "assistant", "tool", "function"]]
    content: Required[str | list[_TextPartJSON] | None]
    name: str


class _StreamOptionsJSON(TypedDict, total=False):
    include_usage: bool | None


class _SamplingJSON(TypedDict, total=False):
    model: Required[str]
    max_tokens: _Count | None
    temperature: float | None
    top_p: float | None
    seed: int | None
    stop: str | Annotated[list[str], Field(max_length=4)] | None
    n: Literal[1] | None
    stream: bool | None
    stream_options: _StreamOptionsJSON | None


class ChatRequestJSON(_SamplingJSON, total=False):
    messages: Required[Annotated[list[_MessageJSON], Field(min_length=1)]]
    max_completion_tokens: _Count | None


class CompletionRequestJSON(_SamplingJSON, total=False):
    prompt: Required[str | Annotated[list[str], Field(min_length=1, max_length=1)]]


class EmbeddingRequestJSON(TypedDict, total=False):
    model: Required[str]
    input: Required[str | Annotated[list[str], Field(min_length=1, max_length=2048)]]
    encoding_format: Literal["float", "base64"]
    dimensions: int
    user: str


def chat_request(body: dict[str, Any]) -> ChatRequestJSON:
    return validated(ChatRequestJSON, body)


def completion_request(body: dict[str, Any]) -> CompletionRequestJSON:
    return validated(CompletionRequestJSON, body)


def embedding_request(body: dict[str, Any]) -> EmbeddingRequestJSON:
    request = validated(EmbeddingRequestJSON, body)
    if "dimensions" in request:
        raise OpenAIError(
            400,
            "dimensions is not supported: a model's vectors have the length it makes.",
            param="dimensions",
            code="unsupported_parameter",
        )
    return request


# Model input ← the OpenAI parameter it comes from; the first of each model input's names that
# the schema has is the one used.
Params = dict[str, str]


def _properties(version: Version) -> dict[str, Any]:
    return version.openapi_schema.get("components", {}).get("schemas", {}).get("Input", {}).get("properties", {})


def _sampling(
    request: _SamplingJSON, max_tokens: int | None, properties: dict[str, Any]
) -> tuple[dict[str, Any], Params]:
    model_input: dict[str, Any] = {}
    params: Params = {}

    def put(names: tuple[str, ...], param: str, value: Any) -> None:
        name = next((name for name in names if name in properties), None)
        if value is not None and name is not None:
            model_input[name], params[name] = value, param

    put(("max_tokens", "max_new_tokens"), "max_tokens", max_tokens)
    put(("temperature",), "temperature", request.get("temperature"))
    put(("top_p",), "top_p", request.get("top_p"))
    put(("seed",), "seed", request.get("seed"))
    stop = request.get("stop")
    stops = [stop] if isinstance(stop, str) else (stop or [])
    if any("," in text for text in stops) and "stop_sequences" in properties:
        # The model takes its stop sequences comma-separated: one holding a comma would split.
        raise OpenAIError(
            400, "A stop sequence may not contain a comma for this model.", param="stop", code="invalid_value"
        )
    put(("stop_sequences",), "stop", ",".join(stops) or None)
    return model_input, params


def _text(content: str | list[_TextPartJSON] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if any(part["type"] != "text" for part in content):
        raise OpenAIError(400, "Only text content is supported.", param="messages", code="invalid_value")
    return "".join(part.get("text", "") for part in content)


def _turns(messages: list[_MessageJSON]) -> list[dict[str, str]]:
    turns = []
    for message in messages:
        role = message["role"]
        if role in ("tool", "function"):
            raise OpenAIError(
                400, f"Messages of role {role} are not supported.", param="messages", code="invalid_value"
            )
        turns.append({"role": "system" if role == "developer" else role, "content": _text(message["content"])})
    return turns


def chat_input(request: ChatRequestJSON, version: Version) -> tuple[dict[str, Any], Params]:
    properties = _properties(version)
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    model_input, params = _sampling(request, max_tokens, properties)
    turns = _turns(request["messages"])
    system = "\n\n".join(turn["content"] for turn in turns if turn["role"] == "system")
    conversation = [turn for turn in turns if turn["role"] != "system"]
    last_user = next((turn["content"] for turn in reversed(conversation) if turn["role"] == "user"), "")
    if "messages" in properties:
        # The prompt too, so that the prediction's page shows what was asked.
        model_input.update(messages=json.dumps(turns, ensure_ascii=False), prompt=last_user)
        params.update(messages="messages", prompt="messages")
        return model_input, params
    if "system_prompt" in properties and system:
        model_input["system_prompt"], params["system_prompt"] = system, "messages"
    elif system:
        conversation = [{"role": "system", "content": system}, *conversation]
    if len(conversation) == 1 and conversation[0]["role"] == "user":
        prompt = last_user
    else:
        prompt = "".join(f"{turn['role']}: {turn['content']}\n" for turn in conversation) + "assistant:"
    model_input["prompt"], params["prompt"] = prompt, "messages"
    return model_input, params


def completion_input(request: CompletionRequestJSON, version: Version) -> tuple[dict[str, Any], Params]:
    model_input, params = _sampling(request, request.get("max_tokens"), _properties(version))
    prompt = request["prompt"]
    model_input["prompt"], params["prompt"] = prompt if isinstance(prompt, str) else prompt[0], "prompt"
    return model_input, params


def embedding_input(request: EmbeddingRequestJSON) -> tuple[dict[str, Any], Params]:
    texts = [request["input"]] if isinstance(request["input"], str) else request["input"]
    if any(not text.strip() for text in texts):
        raise OpenAIError(400, "input may not hold an empty string.", param="input", code="invalid_value")
    # One vector per text: the zoo model reads a text of several lines as one text per line, and
    # its tokenizer sees a line break as any other space.
    return {"texts": [" ".join(text.splitlines()) for text in texts]}, {"texts": "input"}


def wants_usage_chunk(request: _SamplingJSON) -> bool:
    return bool((request.get("stream_options") or {}).get("include_usage"))
