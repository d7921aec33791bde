"""`billing.selectors.usage_summary` and GET /v1/account/usage, which serves it."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from accounts.models import Account
from billing.models import UsageRecord
from billing.selectors import usage_summary
from billing.services import credit_grant, usage_record_for
from inference.models import Model, Prediction, Version

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def _bill(account, version, seconds: float, when: datetime) -> UsageRecord:
    prediction = Prediction.objects.create(account=account, model=version.model, version=version, status="succeeded")
    record = usage_record_for(prediction=prediction, predict_time=seconds)
    UsageRecord.objects.filter(pk=record.pk).update(created_at=when)
    return record


@pytest.fixture
def gpu_version(alice, cpu, echo_version):
    from billing.models import Hardware

    model = Model.objects.create(
        owner=alice.account,
        name="painter",
        hardware=Hardware.objects.get(sku="gpu-t4"),
        visibility=Model.Visibility.PUBLIC,
    )
    return Version.objects.create(
        model=model,
        sha256="b" * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=echo_version.openapi_schema,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )


@pytest.fixture
def march(alice, bob, echo_version, gpu_version):
    """alice: cpu 10 s on 1 March, t4 4 s + 2 s on 3 March, one cpu run in February and
    one after NOW; bob: 100 s of alice's public t4 model, billed to bob."""
    _bill(alice.account, echo_version, 10, datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    _bill(alice.account, gpu_version, 4, datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    _bill(alice.account, gpu_version, 2, datetime(2026, 3, 3, 23, 59, 59, tzinfo=UTC))
    _bill(alice.account, echo_version, 1000, datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC))
    _bill(alice.account, echo_version, 1000, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    _bill(bob.account, gpu_version, 100, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


def test_the_summary_totals_the_month_so_far_by_model_and_by_day(alice, march):
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("20"))
    summary = usage_summary(account=alice.account, now=NOW)
    t4_amount = Decimal("0.001350")  # 6 s x $0.000225
    assert summary == {
        "currency": "USD",
        "month_start": datetime(2026, 3, 1, tzinfo=UTC),
        "month_to_date_spend": Decimal("0.001000") + t4_amount,
        "spending_limit": Decimal("20.000000"),
        "credit": None,
        "by_model": [
            {"model": "alice/painter", "predictions": 2, "seconds": Decimal("6.000"), "amount": t4_amount},
            {"model": "alice/echo", "predictions": 1, "seconds": Decimal("10.000"), "amount": Decimal("0.001000")},
        ],
        "by_day": [
            {"date": date(2026, 3, 1), "predictions": 1, "seconds": Decimal("10.000"), "amount": Decimal("0.001")},
            {"date": date(2026, 3, 2), "predictions": 0, "seconds": Decimal("0"), "amount": Decimal("0")},
            {"date": date(2026, 3, 3), "predictions": 2, "seconds": Decimal("6.000"), "amount": t4_amount},
            {"date": date(2026, 3, 4), "predictions": 0, "seconds": Decimal("0"), "amount": Decimal("0")},
        ],
        "saved_by_cache": {"predictions": 0, "seconds": Decimal("0"), "amount": Decimal("0")},
    }


def test_a_model_owner_does_not_see_or_pay_for_other_tenants_runs(bob, march):
    summary = usage_summary(account=bob.account, now=NOW)
    assert summary["month_to_date_spend"] == Decimal("0.022500")
    assert [row["model"] for row in summary["by_model"]] == ["alice/painter"]
    assert [row["predictions"] for row in summary["by_day"]] == [0, 1, 0, 0]


def test_an_account_without_usage_has_every_day_at_zero(alice):
    summary = usage_summary(account=alice.account, now=datetime(2026, 2, 28, 23, 0, tzinfo=UTC))
    assert summary["month_to_date_spend"] == 0 and summary["by_model"] == []
    assert [row["date"].day for row in summary["by_day"]] == list(range(1, 29))


def test_the_endpoint_serves_the_callers_summary_with_exact_amounts(api, alice, echo_version):
    credit_grant(account=alice.account, amount=Decimal("2.5"))
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    usage_record_for(prediction=prediction, predict_time=12.3456)
    response = api.get("/v1/account/usage", **alice.auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["currency"], body["month_to_date_spend"], body["spending_limit"], body["credit"]) == (
        "USD",
        "0.001235",
        None,
        "2.498765",
    )
    assert body["by_model"] == [{"model": "alice/echo", "predictions": 1, "seconds": "12.346", "amount": "0.001235"}]
    today = body["by_day"][-1]
    assert today == {
        "date": prediction.created_at.date().isoformat(),
        "predictions": 1,
        "seconds": "12.346",
        "amount": "0.001235",
    }
    assert body["month_start"].endswith("-01T00:00:00.000000Z")


def test_another_tenant_sees_only_its_own_usage_and_changes_nothing(api, alice, bob, echo_version):
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    usage_record_for(prediction=prediction, predict_time=30)
    before = list(UsageRecord.objects.values())
    body = api.get("/v1/account/usage", **bob.auth).json()
    assert (body["month_to_date_spend"], body["by_model"]) == ("0.000000", [])
    assert all(row["predictions"] == 0 for row in body["by_day"])
    assert list(UsageRecord.objects.values()) == before


def test_usage_needs_a_token(api, alice):
    response = api.get("/v1/account/usage")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
