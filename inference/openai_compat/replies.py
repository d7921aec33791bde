"""OpenAI's response objects, built from a prediction: `chat.completion`, its stream's
`chat.completion.chunk`, `text_completion`, the embeddings `list` and `model`.

Ids carry the prediction's id (`chatcmpl-<id>`, `cmpl-<id>`; also the `x-request-id` header,
which the clients show as `_request_id`), so an answer can be found in the history and on the
dashboard. `system_fingerprint` names the version that answered."""

import base64
import json
import struct
from typing import Any

from inference.models import Model, Prediction

CHAT, COMPLETION = "chat.completion", "text_completion"


def request_id_header(prediction: Prediction) -> dict[str, str]:
    return {"x-request-id": prediction.id}


def output_text(output: Any) -> str:
    """A language model's output: the pieces of its iterator joined, or its one string."""
    if isinstance(output, list):
        return "".join(piece if isinstance(piece, str) else json.dumps(piece) for piece in output)
    if output is None:
        return ""
    return output if isinstance(output, str) else json.dumps(output)


def usage_json(metrics: dict[str, Any]) -> dict[str, int] | None:
    """Token counts as the model reported them (`input_token_count` and `output_token_count`
    metrics, as Replicate's language models record them); None for a model that reports none."""
    prompt, completion = metrics.get("input_token_count"), metrics.get("output_token_count")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(prediction: Prediction, metrics: dict[str, Any]) -> str:
    """`length` when the model wrote as many tokens as it was allowed, else `stop`."""
    allowed = prediction.input.get("max_tokens", prediction.input.get("max_new_tokens"))
    written = metrics.get("output_token_count")
    return "length" if isinstance(allowed, int) and isinstance(written, int) and written >= allowed else "stop"


def _envelope(prediction: Prediction, name: str, kind: str) -> dict[str, Any]:
    return {
        "id": f"{'chatcmpl' if kind.startswith(CHAT) else 'cmpl'}-{prediction.id}",
        "object": kind,
        "created": int(prediction.created_at.timestamp()),
        "model": name,
        "system_fingerprint": f"hearth-{prediction.version.sha256[:12]}",
    }


def completion_json(prediction: Prediction, name: str, kind: str, state: dict[str, Any]) -> dict[str, Any]:
    """The whole answer of a finished prediction, as a chat completion or a text completion."""
    text, metrics = output_text(state.get("output")), state.get("metrics") or {}
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish_reason(prediction, metrics)}
    if kind == CHAT:
        choice["message"] = {"role": "assistant", "content": text, "refusal": None}
    else:
        choice["text"] = text
    document = {**_envelope(prediction, name, kind), "choices": [choice]}
    usage = usage_json(metrics)
    if usage is not None:
        document["usage"] = usage
    return document


def chunk_json(
    prediction: Prediction, name: str, kind: str, *, text: str | None, role: bool = False, finish: str | None = None
) -> dict[str, Any]:
    """One streamed piece: `text` (None for a piece without text), the assistant's role in a chat's
    first piece, and `finish` in the last."""
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish}
    if kind == CHAT:
        delta: dict[str, Any] = {"role": "assistant"} if role else {}
        if text is not None:
            delta["content"] = text
        choice["delta"] = delta
        object_kind = "chat.completion.chunk"
    else:
        choice["text"] = text or ""
        object_kind = COMPLETION
    return {**_envelope(prediction, name, object_kind), "choices": [choice]}


def usage_chunk_json(prediction: Prediction, name: str, kind: str, usage: dict[str, int] | None) -> dict[str, Any]:
    """The last piece when the caller asked for `stream_options.include_usage`: no choices."""
    object_kind = "chat.completion.chunk" if kind == CHAT else COMPLETION
    return {**_envelope(prediction, name, object_kind), "choices": [], "usage": usage}


def embeddings_json(name: str, vectors: list[list[float]], encoding: str, usage: dict[str, int]) -> dict[str, Any]:
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding)}
        for index, vector in enumerate(vectors)
    ]
    return {"object": "list", "data": data, "model": name, "usage": usage}


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    """`base64`: little-endian float32s, which the `openai` Python client asks for by default."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def model_json(model: Model, name: str | None = None) -> dict[str, Any]:
    return {
        "id": name or model.full_name,
        "object": "model",
        "created": int(model.created_at.timestamp()),
        "owned_by": model.owner.username,
    }
