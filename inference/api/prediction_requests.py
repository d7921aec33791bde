"""What a prediction create request may hold, as the OpenAPI document states it: the bodies of
POST /v1/predictions (`PredictionRequest`, which names the version) and of the model and
deployment paths (`ModelPredictionRequest`, whose path names it), and the `Prefer` and
`Cancel-After` headers.

The hot path reads the body by hand (`inference.api.predictions`: a TypeAdapter would cost the
create more than the rest of its parsing), to exactly these rules; tests/hosting/test_openapi_*
and the schemathesis run (tests/e2e/test_schemathesis.py) hold the two together.
"""

from typing import Annotated, Required

from drf_spectacular.utils import OpenApiParameter
from pydantic import Field, WithJsonSchema
from typing_extensions import TypedDict

from hosting.shapes import NO_NUL, JsonObject, Text, no_nul_anywhere, shape
from inference.api.deadlines import CANCEL_AFTER_PATTERN
from inference.representations import WebhookEvent

# Absent, null and "" all mean no webhook.
_WEBHOOK = {
    "anyOf": [
        {"type": "string", "format": "uri", "pattern": NO_NUL},
        {"type": "string", "maxLength": 0},
        {"type": "null"},
    ],
    "description": "Where to POST the prediction as it changes: an http(s) URL whose host resolves to a public "
    "address (else 422); null or empty for none",
}


@shape
@no_nul_anywhere
class ModelPredictionRequestJSON(TypedDict, total=False):
    """No string anywhere in the body may hold a NUL character (PostgreSQL cannot store one)."""

    input: Annotated[
        JsonObject, Field(description="Checked against the version's Input schema (else 422); may be left out")
    ]
    webhook: Annotated[str | None, WithJsonSchema(_WEBHOOK)]
    webhook_events_filter: Annotated[
        list[WebhookEvent] | None, Field(description="Which changes to POST; null or absent: all of them")
    ]
    stream: Annotated[bool | None, Field(description="Accepted for compatibility; iterator models always stream")]


@shape
@no_nul_anywhere
class PredictionRequestJSON(ModelPredictionRequestJSON):
    version: Required[
        Annotated[
            Text,
            Field(description="A version id (64 hex digits), or owner/name:id; one you may not run, or none, is a 422"),
        ]
    ]


PREFER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    description="RFC 7240 preferences, comma-separated. `wait` or `wait=N` (N in 1..60; more is taken as 60, "
    "`wait=0` as no wait) holds the request until the prediction finishes or N seconds pass. `cache`: "
    "if the model's owner allows it, an output cached for the same input to the same version answers at once "
    "(a new prediction, `succeeded`, `metrics.cached` true, not billed). Other preferences are ignored, "
    "as RFC 7240 asks.",
)
CANCEL_AFTER = OpenApiParameter(
    "Cancel-After",
    {"type": "string", "pattern": CANCEL_AFTER_PATTERN},
    OpenApiParameter.HEADER,
    description="Cancel the prediction if it has not finished this long after creation: whole numbers (no "
    "leading zero) of h, m, s and ms, largest unit first and each at most once (`30s`, `5m`, `1h30m`, "
    "`5500ms`), or a bare number of seconds; at least 5 s, which the pattern spells out.",
)
