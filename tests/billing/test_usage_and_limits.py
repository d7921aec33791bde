from decimal import Decimal

import pytest

from accounts.models import Account
from billing.models import UsageRecord
from billing.services import usage_record_for
from hosting.problems import ApiProblem
from inference import services
from inference.models import Prediction
from tests.billing.concurrent_creates import create_all_at_once


def test_a_prediction_is_billed_once_at_the_price_in_force(alice, echo_version):
    prediction = Prediction.objects.create(account=alice.account, model=echo_version.model, version=echo_version)
    first = usage_record_for(prediction=prediction, predict_time=2.0)
    hardware = echo_version.model.hardware
    hardware.price_per_second = Decimal("1")
    hardware.save()
    again = usage_record_for(prediction=prediction, predict_time=2.0)  # a retried task
    assert again.pk == first.pk and UsageRecord.objects.count() == 1
    assert first.amount == Decimal("0.000200") and first.price_per_second == Decimal("0.0001")


def test_a_limit_refuses_creation_with_402_and_stores_nothing(api, alice, echo_version):
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0.001"))
    response = api.post("/v1/models/alice/echo/predictions", data="{}", content_type="application/json", **alice.auth)
    assert response.status_code == 402
    assert response.json()["title"] == "You have reached your spending limit"
    assert not Prediction.objects.exists()


def test_month_to_date_spend_counts_against_the_limit(alice, echo_version):
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0.0100"))
    account = Account.objects.get(pk=alice.account.pk)
    done = Prediction.objects.create(
        account=account, model=echo_version.model, version=echo_version, status="succeeded"
    )
    usage_record_for(prediction=done, predict_time=45)  # $0.0045 spent; a reservation is $0.006
    with pytest.raises(ApiProblem) as raised:
        services.prediction_create(account=account, version=echo_version, input={})
    assert raised.value.status == 402


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_concurrent_creates_never_pass_the_limit(alice, echo_version):
    # A cpu reservation is 60 s x $0.0001 = $0.006: a $0.03 limit allows exactly 5 in flight.
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0.03"))
    account = Account.objects.get(pk=alice.account.pk)
    created, refused = create_all_at_once(account=account, version=echo_version)
    assert created == 5 and [problem.status for problem in refused] == [402] * 45
    assert Prediction.objects.filter(account=account).count() == 5
