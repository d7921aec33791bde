"""Billing and rate limits through the real processes and the unmodified `replicate` client."""

import time
from decimal import Decimal

import httpx
import pytest
from replicate.exceptions import ModelError, ReplicateError

from billing.money import billable_seconds, charge
from hosting import ratelimit
from hosting.redis_clients import sync_client
from tests.conftest import make_persona
from tests.e2e.test_replicate_client import wait_for_status, wait_until_running

pytestmark = pytest.mark.e2e
CPU_PRICE = Decimal("0.0001")


@pytest.fixture(scope="module")
def carol(platform, django_db_blocker):
    """A tenant of her own, so other tests' view of bob's predictions stays as they expect."""
    with django_db_blocker.unblock():
        return make_persona("carol")


def _usage(django_db_blocker, prediction_id: str):
    from billing.models import UsageRecord

    with django_db_blocker.unblock():
        return UsageRecord.objects.filter(prediction_id=prediction_id).first()


def _assert_billed(django_db_blocker, prediction) -> None:
    record = _usage(django_db_blocker, prediction.id)
    seconds = billable_seconds(prediction.metrics["predict_time"])
    assert record is not None and record.seconds == seconds
    assert record.amount == charge(seconds=seconds, price_per_second=CPU_PRICE)
    assert prediction.metrics["cost"] == str(record.amount)


def test_a_prediction_that_fails_after_starting_is_billed(platform, django_db_blocker):
    with pytest.raises(ModelError) as raised:
        platform.client().run("alice/fails", input={"reason": "billed anyway"})
    _assert_billed(django_db_blocker, raised.value.prediction)


def test_canceled_while_running_is_billed_and_canceled_while_queued_is_not(platform, django_db_blocker):
    client = platform.client()
    running = client.predictions.create(version=platform.versions["sleeper"], input={"seconds": 60})
    wait_for_status(running, {"processing"})
    queued = client.predictions.create(version=platform.versions["chatty"], input={"n": 2})
    queued.cancel()
    wait_until_running(running)
    running.cancel()
    wait_for_status(running, {"canceled"}, timeout=15)
    _assert_billed(django_db_blocker, running)
    queued.reload()
    assert queued.status == "canceled" and "cost" not in queued.metrics
    assert _usage(django_db_blocker, queued.id) is None


def _fill_create_windows(token_id: int, count: int) -> list[str]:
    """What other web processes would have counted for this token: this window and the next
    (so the test holds even if the minute turns over mid-test)."""
    keys = [ratelimit.window_key(ratelimit.CREATE, token_id, now=time.time() + shift)[0] for shift in (0, 60)]
    for key in keys:
        sync_client().set(key, count, ex=130)
    return keys


def test_creation_past_the_rate_limit_is_a_429_with_retry_after(platform, carol):
    keys = _fill_create_windows(carol.token.pk, 600)  # the default: 600 a minute
    try:
        with pytest.raises(ReplicateError) as raised:
            platform.client(carol).predictions.create(model="alice/public-echo", input={"text": "x"})
        assert raised.value.status == 429 and raised.value.title == "Too many requests"
        response = httpx.post(
            f"{platform.url}/v1/models/alice/public-echo/predictions",
            json={"input": {}},
            headers={"Authorization": f"Bearer {carol.plaintext}"},
        )
        assert response.status_code == 429 and response.headers["Content-Type"] == "application/problem+json"
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        # Other endpoints are counted apart and still answer.
        assert platform.client(carol).models.get("alice/public-echo").name == "public-echo"
    finally:
        sync_client().delete(*keys)
    assert platform.client(carol).run("alice/public-echo", input={"text": "again"}) == "again"


def test_the_usage_endpoint_reports_what_the_client_ran(platform, carol):
    client = platform.client(carol)
    before = httpx.get(
        f"{platform.url}/v1/account/usage", headers={"Authorization": f"Bearer {carol.plaintext}"}
    ).json()
    prediction = client.predictions.create(model="alice/public-echo", input={"text": "metered"})
    wait_for_status(prediction, {"succeeded"})
    after = httpx.get(f"{platform.url}/v1/account/usage", headers={"Authorization": f"Bearer {carol.plaintext}"}).json()
    spent = Decimal(after["month_to_date_spend"]) - Decimal(before["month_to_date_spend"])
    assert spent == Decimal(prediction.metrics["cost"])
    [line] = [row for row in after["by_model"] if row["model"] == "alice/public-echo"]
    assert line["predictions"] >= 1


def test_a_prepaid_account_out_of_credit_gets_a_402_replicate_error(platform, django_db_blocker):
    from billing.services import credit_grant

    with django_db_blocker.unblock():
        dave = make_persona("dave")
        credit_grant(account=dave.account, amount=Decimal("0.001"))  # less than one reservation ($0.006)
    with pytest.raises(ReplicateError) as raised:
        platform.client(dave).run("alice/public-echo", input={"text": "on credit"})
    assert raised.value.status == 402 and raised.value.title == "Insufficient credit"
    with django_db_blocker.unblock():
        credit_grant(account=dave.account, amount=Decimal("1"))
    # Topped up, it runs at once: the check reads the balance afresh under the account lock.
    assert platform.client(dave).run("alice/public-echo", input={"text": "on credit"}) == "on credit"
