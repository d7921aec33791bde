"""POST /embeddings: a prediction of an embeddings model (`Model.openai_api` embeddings), whose
vectors come back in OpenAI's `list` of `embedding` objects, as floats or as base64."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from inference.models import OpenAIApi, Prediction
from inference.openai_compat import inputs, replies, runs
from inference.openai_compat.endpoints import OpenAIEndpoint
from inference.openai_compat.errors import OpenAIError


class Embeddings(OpenAIEndpoint):
    async def post(self, request: HttpRequest) -> HttpResponse:
        embedding = inputs.embedding_request(await runs.body_of(self, request))
        prediction = await runs.start(
            self,
            name=embedding["model"],
            api=OpenAIApi.EMBEDDINGS,
            make_input=lambda version: inputs.embedding_input(embedding),
        )
        state = await runs.finished(prediction)
        vectors = _vectors(prediction, state.get("output"), expected=len(prediction.input["texts"]))
        metrics = state.get("metrics") or {}
        tokens = metrics.get("input_token_count")
        # A model that reports no count is counted as none, rather than guessed at.
        usage = {"prompt_tokens": tokens, "total_tokens": tokens} if isinstance(tokens, int) else _NO_TOKENS
        document = replies.embeddings_json(
            embedding["model"], vectors, embedding.get("encoding_format", "float"), usage
        )
        return JsonResponse(document, headers=replies.request_id_header(prediction))


_NO_TOKENS = {"prompt_tokens": 0, "total_tokens": 0}


def _vectors(prediction: Prediction, output: Any, *, expected: int) -> list[list[float]]:
    """One list of numbers per input, or a 500: the model answered something else."""
    if (
        isinstance(output, list)
        and len(output) == expected
        and all(isinstance(vector, list) and all(isinstance(x, int | float) for x in vector) for vector in output)
    ):
        return output
    raise OpenAIError(
        500,
        f"Prediction {prediction.id}: the model did not return one vector for each of the {expected} inputs.",
        type="server_error",
        code="model_error",
    )
