"""Webhooks (replicate-api.md §10, ARCHITECTURE §7): signed with the account's `whsec_`
secret in the Standard Webhooks layout, body = the prediction's GET JSON at that moment.

`start` and `completed` are always sent (if in the filter); `output`/`logs` ride on the
worker's progress saves, so they go at most once per 500 ms. Only `completed` is retried,
with exponential backoff and the same `webhook-id`. Redirects are never followed, and URLs
that resolve to private, loopback or link-local addresses are refused unless
WEBHOOK_ALLOWED_NETWORKS lets them through.
"""

import base64
import ipaddress
import json
import secrets
import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from accounts.models import Account
from hosting.problems import ApiProblem
from inference.models import Prediction, WebhookDelivery

EVENTS = ("start", "output", "logs", "completed")
DELIVERY_TIMEOUT_SECONDS = 10


def account_secret(account: Account) -> str:
    """The account's signing secret, made on first use. Standard base64: the Python client
    splits the secret on "_" and needs exactly two parts."""
    if not account.webhook_secret:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        Account.objects.filter(pk=account.pk, webhook_secret="").update(webhook_secret=secret)
        account.refresh_from_db(fields=["webhook_secret"])
    return account.webhook_secret


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(text, strict=False) for text in settings.WEBHOOK_ALLOWED_NETWORKS]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if any(address in network for network in _allowed_networks()):
        return True
    return address.is_global and not address.is_multicast


def refused_reason(url: str) -> str | None:
    """Why this URL may not receive webhooks, or None if it may."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return "has a host name that does not resolve"
    if not all(_is_public(ipaddress.ip_address(address.split("%")[0])) for address in addresses):
        return "resolves to a private, loopback or link-local address"
    return None


def validate_webhook_url(url: str) -> None:
    reason = refused_reason(url)
    if reason:
        detail = f"The webhook URL {reason}."
        raise ApiProblem(422, "Invalid webhook", detail,
                         invalid_fields=[{"type": "webhook", "field": "webhook", "description": detail}])


def wants(prediction: Prediction, event: str) -> bool:
    return bool(prediction.webhook) and event in (prediction.webhook_events_filter or EVENTS)


def deliver(*, prediction: Prediction, event: str, body: dict, message_id: str, attempt: int) -> bool:
    """POST one signed delivery and record it. True when the receiver answered 2xx."""
    payload = json.dumps(body, separators=(",", ":"))
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "hearth-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(account_secret(prediction.account)).sign(message_id, now, payload),
    }
    record = WebhookDelivery(prediction=prediction, event=event, message_id=message_id, attempt=attempt,
                             url=prediction.webhook)
    reason = refused_reason(prediction.webhook)  # again now: DNS may have changed since creation
    if reason:
        record.error = f"Not delivered: the URL {reason}."
    else:
        try:
            response = httpx.post(prediction.webhook, content=payload, headers=headers,
                                  timeout=DELIVERY_TIMEOUT_SECONDS, follow_redirects=False)
            record.status_code = response.status_code
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
    record.save()
    return record.succeeded
