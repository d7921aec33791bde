"""One OpenAI call, one ordinary prediction: created through the /v1 create path
(`inference.api.predictions`: input validation, disabled models, spending limits, queueing),
counted against the token's create rate limit, and waited for on its event stream."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest

from hosting import database, ratelimit
from inference import events, services
from inference.api.predictions import create_prediction, request_json
from inference.models import OpenAIApi, Prediction, Version
from inference.openai_compat.endpoints import OpenAIEndpoint
from inference.openai_compat.errors import OpenAIError
from inference.openai_compat.inputs import Params
from inference.openai_compat.targets import Target, target_for

logger = logging.getLogger(__name__)

MakeInput = Callable[[Version], tuple[dict[str, Any], Params]]


async def body_of(endpoint: OpenAIEndpoint, request: HttpRequest) -> dict[str, Any]:
    """The request's JSON body, once it has counted against the token's create limit."""
    await ratelimit.acheck(ratelimit.CREATE, endpoint.token_id)
    return request_json(request)


async def start(endpoint: OpenAIEndpoint, *, name: str, api: OpenAIApi, make_input: MakeInput) -> Prediction:
    """A prediction of the model `name` names, with the input `make_input` makes for its version."""

    def create() -> Prediction:
        target: Target = target_for(account=endpoint.account, name=name, api=api)
        model_input, params = make_input(target.version)
        try:
            return create_prediction(
                endpoint.account, target.version, {"input": model_input}, None, deployment=target.deployment
            )
        except services.InvalidInput as exc:
            # Named as the caller named it: `max_tokens`, not the model's input of that value.
            field = exc.extra["invalid_fields"][0]
            input_name = field["field"].removeprefix("input.")
            param = params.get(input_name, input_name)
            raise OpenAIError(400, f"{param}: {field['description']}", param=param, code="invalid_value") from exc

    return await sync_to_async(create)()


# Every prediction ends within these (the sweep fails one that waits or runs longer), so a
# waiter that outlives them has lost its event stream.
def _longest_wait() -> float:
    return settings.PREDICTION_MAX_QUEUE_SECONDS + settings.PREDICTION_MAX_RUN_TIME + 60


async def finished(prediction: Prediction) -> dict[str, Any]:
    """The prediction's final state once it has succeeded; an OpenAI error if it did not.

    A caller that goes away before then cancels it: nobody is left to read its answer."""
    await database.give_back_connection()  # the wait needs none, and may last minutes
    try:
        state = await events.wait_for_done(prediction.id, _longest_wait())
    except asyncio.CancelledError:
        await cancel_unfinished(prediction)
        raise
    except EVENT_STORE_DOWN as exc:
        raise interrupted(prediction) from exc
    if state is None:
        raise OpenAIError(
            504, f"Prediction {prediction.id} did not finish in time.", type="server_error", code="timeout"
        )
    raise_unless_succeeded(prediction, state)
    return state


EVENT_STORE_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def interrupted(prediction: Prediction) -> OpenAIError:
    """The event store broke while a caller waited. Not a 503 the client retries: the prediction
    exists and goes on, and a retry would run (and bill) another."""
    return OpenAIError(
        502,
        f"Hearth lost the event stream of prediction {prediction.id}, which goes on: "
        f"GET /v1/predictions/{prediction.id} has its output once it finishes.",
        type="server_error",
        code="stream_interrupted",
    )


def raise_unless_succeeded(prediction: Prediction, state: dict[str, Any]) -> None:
    if state["status"] == Prediction.Status.SUCCEEDED:
        return
    if state["status"] == Prediction.Status.FAILED:
        detail = state.get("error") or "the model failed"
        raise OpenAIError(500, f"Prediction {prediction.id} failed: {detail}", type="server_error", code="model_error")
    raise OpenAIError(
        500, f"Prediction {prediction.id} was {state['status']}.", type="server_error", code="prediction_canceled"
    )


async def cancel_unfinished(prediction: Prediction) -> None:
    """Cancel a prediction whose caller went away (a finished one is left as it is)."""
    try:
        await sync_to_async(services.prediction_cancel)(prediction=prediction)
    except Exception:  # the caller is gone either way; the prediction ends on its own
        logger.warning("could not cancel %s after its caller went away", prediction.id, exc_info=True)
