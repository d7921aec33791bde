"""Webhooks (replicate-api.md §10, ARCHITECTURE §7): signed with the account's `whsec_`
secret in the Standard Webhooks layout, body = the prediction's GET JSON at that moment.

`start` and `completed` are always sent (if in the filter); `output`/`logs` ride on the
worker's progress saves, so they go at most once per 500 ms. Only `completed` is retried,
with exponential backoff and the same `webhook-id`. Redirects are never followed, and URLs
that resolve to private, loopback or link-local addresses are refused unless
WEBHOOK_ALLOWED_NETWORKS lets them through.
"""

import json
import secrets
from datetime import UTC, datetime

import httpx
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from accounts.services import webhook_secret
from hosting import outbound
from hosting.problems import ApiProblem
from inference import enqueue
from inference.models import Prediction, WebhookDelivery
from inference.observability import counters
from inference.representations import api_json, public_origin

EVENTS = ("start", "output", "logs", "completed")
DELIVERY_TIMEOUT_SECONDS = 10


def refused_reason(url: str) -> str | None:
    """Why this URL may not receive webhooks, or None if it may."""
    return outbound.refused_reason(url, allowed_networks=settings.WEBHOOK_ALLOWED_NETWORKS)


def validate_webhook_url(url: str) -> None:
    reason = refused_reason(url)
    if reason:
        detail = f"The webhook URL {reason}."
        raise ApiProblem(
            422,
            "Invalid webhook",
            detail,
            invalid_fields=[{"type": "webhook", "field": "webhook", "description": detail}],
        )


def wants(prediction: Prediction, event: str) -> bool:
    return bool(prediction.webhook) and event in (prediction.webhook_events_filter or EVENTS)


def queue_event(prediction: Prediction, event: str) -> None:
    """Queue the delivery of `event` with the prediction as it is now, if its webhook wants it."""
    if wants(prediction, event):
        body = api_json(prediction, origin=public_origin())
        enqueue.deliver_webhook(
            prediction_id=prediction.id, event=event, body=dict(body), message_id=f"msg_{secrets.token_hex(12)}"
        )


def deliver(*, prediction: Prediction, event: str, body: dict, message_id: str, attempt: int) -> bool:
    """POST one signed delivery and record it. True when the receiver answered 2xx."""
    payload = json.dumps(body, separators=(",", ":"))
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "hearth-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(webhook_secret(prediction.account)).sign(message_id, now, payload),
    }
    record = WebhookDelivery(
        prediction=prediction, event=event, message_id=message_id, attempt=attempt, url=prediction.webhook
    )
    # Checked again now (DNS may have changed since creation), and the connection goes to
    # the very address checked: a DNS answer changed in between cannot redirect it.
    try:
        with (
            outbound.new_client(timeout=DELIVERY_TIMEOUT_SECONDS) as client,
            outbound.pinned_stream(
                client,
                "POST",
                prediction.webhook,
                allowed_networks=settings.WEBHOOK_ALLOWED_NETWORKS,
                content=payload,
                headers=headers,
            ) as response,
        ):
            record.status_code = response.status_code
    except outbound.Refused as refused:
        record.error = f"Not delivered: the URL {refused}."
        outcome = "refused"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        outcome = "unreachable"
    else:
        outcome = "delivered" if record.succeeded else "rejected"
    record.save()
    counters.webhook_delivered(event=event, outcome=outcome)
    return record.succeeded
